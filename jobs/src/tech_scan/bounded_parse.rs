//! HTML parsing with its work bounded: the tree's depth is counted as the
//! parser builds it, and the input is fed in chunks so that a parse whose
//! job has timed out stops at the next chunk and frees its thread.
//!
//! - **Depth as the parser counts it.** The tree sink records each node's
//!   depth when the tree builder attaches it. Stray or mismatched closing
//!   tags, which the parser ignores, therefore do not lower the count (a
//!   tag scan that decrements on every `</x>` can be reset by `</span>`).
//!   Once an element lies deeper than the limit, no more input is fed: the
//!   page is analysed from the bytes read so far.
//! - **Cancellation.** [`CancelOnDrop`] lives in the job's future and the
//!   parse holds its [`CancelFlag`]. When the future is dropped (the stage's
//!   timeout), the flag is set, and the blocking thread stops at the next
//!   chunk or extraction step with [`Cancelled`].

use std::{
    borrow::Cow,
    cell::{Cell, RefCell},
    collections::HashMap,
    rc::Rc,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use html5ever::{
    Attribute, QualName, driver,
    tendril::{StrTendril, TendrilSink},
    tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink},
};
use scraper::{Html, HtmlTreeSink};

/// Input fed to the parser between two checks of the depth and the flag.
const CHUNK: usize = 16 * 1024;

/// The work was stopped because its job gave up on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the page's analysis was cancelled (its job timed out)")]
pub struct Cancelled;

/// Whether the job waiting for a parse still wants it.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag nobody will set (for callers without a deadline).
    pub fn never() -> Self {
        Self::default()
    }

    /// `Err(Cancelled)` once the flag is set.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.0.load(Ordering::Relaxed) {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Sets its flag when dropped: keep it in the async code that awaits the
/// blocking work, so that a timeout (which drops that code) stops the work.
#[derive(Debug, Default)]
pub struct CancelOnDrop(CancelFlag);

impl CancelOnDrop {
    /// A new guard with an unset flag.
    pub fn new() -> Self {
        Self::default()
    }

    /// The flag to hand to the blocking work.
    pub fn flag(&self) -> CancelFlag {
        self.0.clone()
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        (self.0).0.store(true, Ordering::Relaxed);
    }
}

/// A parsed document and how much of the input it holds.
pub struct Parsed {
    /// The tree.
    pub document: Html,
    /// `Some(bytes read)` when parsing stopped because the tree got deeper
    /// than the limit.
    pub cut_at: Option<usize>,
}

/// Parse `html` as a document, stopping once an element lies deeper than
/// `max_depth`, or with [`Cancelled`] once `cancel` is set.
pub fn parse_document(html: &str, max_depth: usize, cancel: &CancelFlag) -> Result<Parsed, Cancelled> {
    let deepest = Rc::new(Cell::new(0usize));
    let sink = DepthSink {
        inner: HtmlTreeSink::new(Html::new_document()),
        depths: RefCell::new(HashMap::new()),
        deepest: Rc::clone(&deepest),
    };
    let mut parser = driver::parse_document(sink, Default::default());
    let mut start = 0;
    let mut cut_at = None;
    while start < html.len() {
        cancel.check()?;
        let mut end = (start + CHUNK).min(html.len());
        while !html.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&html[start..end]));
        start = end;
        if deepest.get() > max_depth {
            if start < html.len() {
                cut_at = Some(start);
            }
            break;
        }
    }
    cancel.check()?;
    Ok(Parsed {
        document: parser.finish(),
        cut_at,
    })
}

type Handle = <HtmlTreeSink as TreeSink>::Handle;

/// scraper's tree sink, with each node's depth recorded as it is attached.
struct DepthSink {
    inner: HtmlTreeSink,
    depths: RefCell<HashMap<Handle, usize>>,
    deepest: Rc<Cell<usize>>,
}

impl DepthSink {
    fn depth(&self, node: &Handle) -> usize {
        self.depths.borrow().get(node).copied().unwrap_or(0)
    }

    fn place(&self, child: &NodeOrText<Handle>, depth: usize) {
        if let NodeOrText::AppendNode(node) = child {
            self.depths.borrow_mut().insert(*node, depth);
            if depth > self.deepest.get() {
                self.deepest.set(depth);
            }
        }
    }
}

impl TreeSink for DepthSink {
    type Handle = Handle;
    type Output = Html;
    type ElemName<'a>
        = <HtmlTreeSink as TreeSink>::ElemName<'a>
    where
        Self: 'a;

    fn finish(self) -> Html {
        self.inner.finish()
    }

    fn parse_error(&self, msg: Cow<'static, str>) {
        self.inner.parse_error(msg);
    }

    fn get_document(&self) -> Handle {
        self.inner.get_document()
    }

    fn elem_name<'a>(&'a self, target: &'a Handle) -> Self::ElemName<'a> {
        self.inner.elem_name(target)
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        self.inner.create_element(name, attrs, flags)
    }

    fn create_comment(&self, text: StrTendril) -> Handle {
        self.inner.create_comment(text)
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> Handle {
        self.inner.create_pi(target, data)
    }

    fn append(&self, parent: &Handle, child: NodeOrText<Handle>) {
        self.place(&child, self.depth(parent) + 1);
        self.inner.append(parent, child);
    }

    fn append_based_on_parent_node(
        &self,
        element: &Handle,
        prev_element: &Handle,
        child: NodeOrText<Handle>,
    ) {
        let parent_depth = self.depth(element).max(self.depth(prev_element));
        self.place(&child, parent_depth + 1);
        self.inner
            .append_based_on_parent_node(element, prev_element, child);
    }

    fn append_doctype_to_document(&self, name: StrTendril, public_id: StrTendril, system_id: StrTendril) {
        self.inner.append_doctype_to_document(name, public_id, system_id);
    }

    fn mark_script_already_started(&self, node: &Handle) {
        self.inner.mark_script_already_started(node);
    }

    fn pop(&self, node: &Handle) {
        self.inner.pop(node);
    }

    fn get_template_contents(&self, target: &Handle) -> Handle {
        let contents = self.inner.get_template_contents(target);
        let depth = self.depth(target);
        self.depths.borrow_mut().entry(contents).or_insert(depth);
        contents
    }

    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        self.inner.same_node(x, y)
    }

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.inner.set_quirks_mode(mode);
    }

    fn append_before_sibling(&self, sibling: &Handle, new_node: NodeOrText<Handle>) {
        self.place(&new_node, self.depth(sibling));
        self.inner.append_before_sibling(sibling, new_node);
    }

    fn add_attrs_if_missing(&self, target: &Handle, attrs: Vec<Attribute>) {
        self.inner.add_attrs_if_missing(target, attrs);
    }

    fn associate_with_form(&self, target: &Handle, form: &Handle, nodes: (&Handle, Option<&Handle>)) {
        self.inner.associate_with_form(target, form, nodes);
    }

    fn remove_from_parent(&self, target: &Handle) {
        self.inner.remove_from_parent(target);
    }

    fn reparent_children(&self, node: &Handle, new_parent: &Handle) {
        // The moved children keep the depth they were counted at: the
        // adoption agency moves them at most a few levels, and the count is
        // a bound on work, not a layout.
        self.inner.reparent_children(node, new_parent);
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        self.inner.is_mathml_annotation_xml_integration_point(handle)
    }

    fn set_current_line(&self, line_number: u64) {
        self.inner.set_current_line(line_number);
    }

    fn allow_declarative_shadow_roots(&self, intended_parent: &Handle) -> bool {
        self.inner.allow_declarative_shadow_roots(intended_parent)
    }

    fn attach_declarative_shadow(&self, location: &Handle, template: &Handle, attrs: &[Attribute]) -> bool {
        self.inner.attach_declarative_shadow(location, template, attrs)
    }

    fn maybe_clone_an_option_into_selectedcontent(&self, option: &Handle) {
        self.inner.maybe_clone_an_option_into_selectedcontent(option);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(html: &str) -> (usize, Option<usize>) {
        let parsed = parse_document(html, 10_000, &CancelFlag::never()).unwrap();
        let deepest = parsed
            .document
            .tree
            .nodes()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap_or(0);
        (deepest, parsed.cut_at)
    }

    #[test]
    fn stray_closing_tags_do_not_lower_the_count() {
        // The parser ignores `</span>` with no open span: the divs nest.
        let html = format!("<html><body>{}</body></html>", "<div></span>".repeat(3_000));
        let parsed = parse_document(&html, 512, &CancelFlag::never()).unwrap();
        let cut = parsed.cut_at.expect("cut where the tree gets deeper than 512");
        assert!(cut < html.len(), "{cut}");
        let (deepest, _) = depth_of(&html[..cut]);
        assert!(deepest > 512, "the kept part nests {deepest} deep");
    }

    #[test]
    fn wide_and_sloppy_pages_are_read_whole() {
        let html = format!(
            "<html><body>{}<ul>{}</ul><table>{}</table>{}</body></html>",
            "<p>para".repeat(5000),
            "<li>item".repeat(5000),
            "<tr><td>cell".repeat(5000),
            ("<div>".repeat(50) + &"</div>".repeat(50)).repeat(200)
        );
        let parsed = parse_document(&html, 64, &CancelFlag::never()).unwrap();
        assert_eq!(parsed.cut_at, None);
        assert_eq!(
            parsed
                .document
                .tree
                .nodes()
                .filter(|n| n.value().is_text())
                .count(),
            15_000
        );
    }

    #[test]
    fn a_set_flag_stops_the_parse() {
        let guard = CancelOnDrop::new();
        let flag = guard.flag();
        assert_eq!(flag.check(), Ok(()));
        drop(guard);
        assert!(matches!(parse_document("<p>x</p>", 64, &flag), Err(Cancelled)));
    }

    #[tokio::test]
    async fn a_timed_out_parse_frees_its_thread_without_finishing() {
        let html = "<p>Pain et viennoiseries, livraison le samedi.</p>\n".repeat(200_000);
        let guard = CancelOnDrop::new();
        let flag = guard.flag();
        let work = tokio::task::spawn_blocking(move || {
            parse_document(&html, 512, &flag).map(|p| p.document.tree.nodes().count())
        });
        // The job's timeout drops the future that holds the guard.
        drop(guard);
        assert_eq!(work.await.unwrap().err(), Some(Cancelled));
    }
}
