//! A parsed element tree: the written bytes read back with quick-xml, namespaces resolved
//! and entities unescaped, with path lookups for the rules and the tests.

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One element: `name` is `cac:X` / `cbc:X` by resolved namespace (whatever prefix the file
/// used), or the bare local name for the document namespace.
#[derive(Debug, Default)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) namespace: String,
    pub(super) attrs: BTreeMap<String, String>,
    pub(super) text: String,
    pub(super) children: Vec<Node>,
}

const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

fn qualified(ns: &ResolveResult<'_>, local: &str) -> (String, String) {
    match ns {
        ResolveResult::Bound(Namespace(uri)) if *uri == NS_CAC => {
            (format!("cac:{local}"), uri.to_string())
        }
        ResolveResult::Bound(Namespace(uri)) if *uri == NS_CBC => {
            (format!("cbc:{local}"), uri.to_string())
        }
        ResolveResult::Bound(Namespace(uri)) => (local.to_string(), uri.to_string()),
        other => panic!("element {local} has no known namespace: {other:?}"),
    }
}

fn start_node(ns: &ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>) -> Node {
    let (name, namespace) = qualified(ns, e.local_name().as_ref());
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .expect("attribute value unescapes");
            (a.key.local_name().as_ref().to_string(), value.into_owned())
        })
        .collect();
    Node {
        name,
        namespace,
        attrs,
        ..Node::default()
    }
}

/// Parses `xml` into its root element; panics on anything that is not well-formed.
pub(super) fn parse(xml: &str) -> Node {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let mut saw_declaration = false;
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        match event {
            Event::Decl(_) => saw_declaration = true,
            Event::Start(e) => stack.push(start_node(&ns, &e)),
            Event::Empty(e) => {
                let node = start_node(&ns, &e);
                stack
                    .last_mut()
                    .expect("inside the root")
                    .children
                    .push(node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("valid character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .expect("only predefined entities")
                        .to_string(),
                };
                stack.last_mut().expect("inside an element").text += &resolved;
            }
            Event::End(_) => {
                let mut node = stack.pop().expect("balanced tags");
                if !node.children.is_empty() {
                    node.text.clear(); // indentation between children, not content
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Eof => break,
            other => panic!("unexpected XML event {other:?}"),
        }
    }
    assert!(saw_declaration, "the XML declaration is missing");
    root.expect("a root element")
}

impl Node {
    pub(super) fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(super) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element along a `/`-separated path of child names.
    pub(super) fn at(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .try_fold(self, |node, step| node.child(step))
    }

    /// The text at `path` if the element exists and is not blank.
    pub(super) fn text_at(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|n| n.text.as_str())
            .filter(|t| !t.trim().is_empty())
    }

    pub(super) fn decimal(&self) -> Option<Decimal> {
        Decimal::from_str(self.text.trim()).ok()
    }

    pub(super) fn decimal_at(&self, path: &str) -> Option<Decimal> {
        self.at(path).and_then(Node::decimal)
    }

    /// This element and all below it, depth first.
    pub(super) fn descendants(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.descendants());
        }
        out
    }
}
