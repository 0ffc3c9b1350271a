//! Every mistake in a file is reported in one run, not only the first.

use super::{fixtures, listing};
use l2c_engine::definition::{load_groups, Definitions, Known};
use std::path::Path;

#[test]
fn a_file_with_several_mistakes_reports_all_of_them() {
    let dir = fixtures().join("bad");
    let groups = load_groups(&dir.join("groups.toml")).unwrap_or_else(|e| panic!("{e}"));
    let err = Definitions::load_dir(&dir, &Known::new(["noop"], groups)).expect_err("refused");
    let found = err.problems();
    let expected = [
        ("broken.toml", "unknown-group", "stage \"feasibility\""),
        ("broken.toml", "bad-quorum", "stage \"feasibility\""),
        ("broken.toml", "unknown-handler", "stage \"configure\""),
        ("broken.toml", "bad-duration", "stage \"configure\""),
        ("broken.toml", "timer-wait", "stage \"wait\""),
        (
            "broken.toml",
            "bad-expression",
            "edge feasibility -> configure",
        ),
        ("broken.toml", "no-end", "stage \"configure\""),
        ("order.toml", "unknown-workflow", "stage \"items\""),
    ];
    let got: Vec<(String, &str, &str)> = found
        .iter()
        .map(|p| {
            let file = Path::new(&p.file)
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default()
                .to_owned();
            (file, p.rule, p.location.as_str())
        })
        .collect();
    let got: Vec<(&str, &str, &str)> = got.iter().map(|(f, r, l)| (f.as_str(), *r, *l)).collect();
    assert_eq!(got, expected, "{}", listing(found));
    let shown = err.to_string();
    assert!(
        shown.starts_with("8 problem(s) in workflow definitions:\n  - "),
        "{shown}"
    );
    assert!(
        shown.contains("bad/broken.toml: stage \"configure\": handler `network.configure`"),
        "{shown}"
    );
}
