//! Mistakes in a file's shape and names, each refused with its rule: TOML syntax, unknown,
//! mistyped and missing keys, stage ids and kinds, file names, descriptions and versions,
//! groups files, and paths that cannot be read.

use super::{
    assert_mentions, fixtures, known, listing, problems, refused, refused_alone,
    with_approval_lines, with_task_lines, BASE,
};
use l2c_engine::definition::{load_groups, parse_groups, Definition, DefinitionError, Definitions};

#[test]
fn toml_syntax_errors_are_refused_at_their_line() {
    let text = BASE.replace("kind = \"end\"", "kind = \"end");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{}", listing(&found));
    assert_eq!(found[0].rule, "syntax");
    assert!(
        found[0].location.starts_with("line 16, column 12"),
        "{}",
        found[0]
    );
    assert!(found[0]
        .to_string()
        .starts_with("wan-link.toml: line 16, column 12: "));
}

#[test]
fn unknown_fields_are_refused_every_one() {
    let text = with_task_lines("timout = \"30s\"\nretries = 3");
    let p = refused_alone(&text, "unknown-field", "stage \"reserve-port\"");
    assert_mentions(&p, &["timeout", "remove it or correct its spelling"]);
    let found = problems(&text);
    assert_eq!(found.len(), 2, "both unknown keys: {}", listing(&found));
    assert!(found.iter().any(|p| p.message.contains("`timout`")));
    assert!(found.iter().any(|p| p.message.contains("`retries`")));

    let nested = with_approval_lines("sla = [ { after = \"4h\", acton = \"remind\" } ]");
    let p = refused(&nested, "unknown-field", "stage \"feasibility\"");
    assert_mentions(&p, &["`sla`", "acton"]);
    let top = format!("titel = \"x\"\n{BASE}");
    let p = refused_alone(&top, "unknown-field", "");
    assert_mentions(&p, &["titel"]);
}

#[test]
fn values_of_the_wrong_type_are_refused_naming_the_key() {
    let text = with_task_lines("timeout = 30");
    let p = refused_alone(&text, "bad-field", "stage \"reserve-port\"");
    assert_mentions(&p, &["`timeout`", "expected a string"]);
}

#[test]
fn missing_required_fields_are_refused() {
    let p = refused(
        &BASE.replace("handler = \"network.reserve-port\"\n", ""),
        "missing-field",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["needs `handler`"]);
    let p = refused(
        &BASE.replace("group = \"network-engineering\"\n", ""),
        "missing-field",
        "stage \"feasibility\"",
    );
    assert_mentions(&p, &["needs `group`"]);
    let p = refused(
        &BASE.replace("kind = \"end\"\n", ""),
        "missing-field",
        "stage \"done\"",
    );
    assert_mentions(&p, &["kind"]);
    refused(
        &BASE.replace("description = \"Test workflow\"\n", ""),
        "missing-field",
        "",
    );
}

#[test]
fn stage_ids_kinds_and_misplaced_fields_are_checked() {
    let p = refused_alone(
        &BASE.replace("kind = \"end\"", "kind = \"finish\""),
        "unknown-kind",
        "stage \"done\"",
    );
    assert_mentions(
        &p,
        &["`finish`", "approval, manual, task, timer, subflow, end"],
    );
    let p = refused_alone(
        &with_approval_lines("timeout = \"30s\""),
        "misplaced-field",
        "stage \"feasibility\"",
    );
    assert_mentions(
        &p,
        &[
            "`timeout` does not apply to a approval stage",
            "only to task",
        ],
    );
    let text = BASE.replace("\"done\"", "\"Done\"");
    refused_alone(&text, "bad-id", "stage \"Done\"");
}

#[test]
fn file_names_descriptions_and_versions_are_checked() {
    let found = match Definition::from_toml("WAN_link.toml", BASE, &known()) {
        Err(DefinitionError::Invalid(found)) => found,
        other => panic!("expected a bad name, got {other:?}"),
    };
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].rule, found[0].file.as_str()),
        ("bad-name", "WAN_link.toml")
    );
    refused_alone(&BASE.replace("Test workflow", " "), "empty-description", "");
    refused_alone(&format!("version = 0\n{BASE}"), "bad-version", "");
    let p = refused_alone("description = \"nothing\"\n", "no-stages", "");
    assert_mentions(&p, &["add [[stage]] tables"]);
    let same_name = [
        ("a/wan-link.toml".to_owned(), BASE.to_owned()),
        ("b/wan-link.toml".to_owned(), BASE.to_owned()),
    ];
    let Err(DefinitionError::Invalid(found)) = Definitions::from_sources(&same_name, &known())
    else {
        panic!("two definitions of one workflow loaded")
    };
    assert_eq!(found[0].rule, "duplicate-workflow");
    assert_eq!(found[0].file, "b/wan-link.toml");
    assert!(found[0].message.contains("a/wan-link.toml"));
}

#[test]
fn groups_files_are_checked() {
    let text =
        "[groups.Sales]\ndescription = \"x\"\n[groups.ops]\ndescription = \"\"\nowner = \"me\"\n";
    let Err(DefinitionError::Invalid(found)) = parse_groups("groups.toml", text) else {
        panic!("a broken groups file loaded")
    };
    let rules: Vec<(&str, &str)> = found
        .iter()
        .map(|p| (p.rule, p.location.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("bad-name", "group \"Sales\""),
            ("unknown-field", "group \"ops\""),
            ("empty-description", "group \"ops\""),
        ],
        "{}",
        listing(&found)
    );
}

#[test]
fn a_missing_directory_or_groups_file_is_an_io_error_naming_the_path() {
    let missing = fixtures().join("no-such-dir");
    let err = Definitions::load_dir(&missing, &known()).expect_err("no directory");
    assert!(matches!(err, DefinitionError::Read { .. }));
    assert!(
        err.to_string().contains("no-such-dir: cannot read it"),
        "{err}"
    );
    assert!(err.problems().is_empty());
    let err = load_groups(&missing.join("groups.toml")).expect_err("no file");
    assert!(err.to_string().contains("groups.toml"), "{err}");
}
