//! Drawings of a definition: dot, Mermaid and text.

use super::{good_set, load, BASE};
use l2c_engine::definition::render;

#[test]
fn dot_output_shows_every_stage_kind_and_condition() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let dot = render::dot(&d);
    assert!(dot.starts_with("digraph {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for needle in [
        "0 [ label = \"commercial-approval\\l(approval)\\l\" shape = diamond penwidth = 2 ]",
        "label = \"credit-check\\l(task)\\l\" shape = box ]",
        "(subflow)\\l\" shape = box3d",
        "(end)\\l\" shape = doublecircle",
        "0 -> 1 [ label = \"\" ]",
        "0 -> 2 [ label = \"input.onsite == true\" style = dashed ]",
    ] {
        assert!(dot.contains(needle), "{needle:?} missing in:\n{dot}");
    }
    assert_eq!(dot.matches(" -> ").count(), 6, "{dot}");
}

#[test]
fn mermaid_output_is_a_flowchart_with_escaped_labels() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let m = render::mermaid(&d);
    assert!(m.starts_with("flowchart TD\n"), "{m}");
    for needle in [
        "    s0{\"commercial-approval<br/>approval\"}\n",
        "    s1[\"credit-check<br/>task\"]\n",
        "    s2[/\"site-visit<br/>manual\"/]\n",
        "    s3{{\"wait-for-date<br/>timer\"}}\n",
        "    s4[[\"items<br/>subflow\"]]\n",
        "    s5([\"done<br/>end\"])\n",
        "    s0 --> s1\n",
        "    s0 -->|\"input.onsite == true\"| s2\n",
    ] {
        assert!(m.contains(needle), "{needle:?} missing in:\n{m}");
    }
    let quoted = BASE.replacen(
        "to = \"reserve-port\"\n",
        "to = \"reserve-port\"\nwhen = 'input.segment == \"smb\" || input.mrc > 10'\n",
        1,
    );
    let m = render::mermaid(&load(&quoted).unwrap_or_else(|e| panic!("{e}")));
    assert!(
        m.contains("s0 -->|\"input.segment == #quot;smb#quot; #124;#124; input.mrc #gt; 10\"| s1"),
        "{m}"
    );
}

#[test]
fn text_output_lists_stages_in_topological_order_with_their_settings() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let t = render::text(&d);
    assert!(
        t.starts_with("order — Fixture order workflow\nversion 2, sha256 "),
        "{t}"
    );
    assert!(t.contains("start: commercial-approval\n"), "{t}");
    for needle in [
        "1. commercial-approval [approval] — Commercial approval\n",
        "   group sales-managers, quorum 2\n",
        "   sla: after 4h remind; after 1d reassign to network-leads; after 3d auto-reject\n",
        "   -> site-visit when input.onsite == true\n",
        "2. credit-check [task]\n",
        "   handler noop, compensation noop, timeout 30s\n",
        "   retry: 5 attempts, backoff 1s up to 5m\n",
        "4. wait-for-date [timer]\n   wait until input.requested_date\n",
        "   one child per element of input.items, running workflow site-survey; a failed child fails the stage\n",
        "6. done [end]\n",
    ] {
        assert!(t.contains(needle), "{needle:?} missing in:\n{t}");
    }
}
