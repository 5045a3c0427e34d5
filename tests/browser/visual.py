"""Visual checks computed in the page: WCAG 2.x text contrast from the rendered styles, horizontal clipping,
and sizing JupyterLab so that the notebook gets a given width.

The JavaScript here runs in the browser with `page.evaluate` (or a locator's `evaluate`); the Python functions
only wrap it. Nothing here asserts: the tests decide what is a failure and keep the figures.
"""

from __future__ import annotations

from typing import Any

from .jlab import NotebookPage

# WCAG 2.x AA for normal text (the widget's text is all below the "large text" sizes, so one threshold).
MIN_CONTRAST = 4.5

# Shared by the scans below: colour parsing, alpha compositing, relative luminance, a readable selector path.
_COLOUR_LIB = r"""
const rtCanvas = document.createElement('canvas');
rtCanvas.width = rtCanvas.height = 1;
const rtCtx = rtCanvas.getContext('2d', {willReadFrequently: true});
/** Any CSS colour string -> [r, g, b, a] with r, g, b in 0..255 and a in 0..1. */
const parse = (c) => {
    const m = /^rgba?\(([^)]*)\)$/.exec((c || '').trim());
    if (m) {
        const p = m[1].split(/[\s,\/]+/).filter(Boolean).map((v) => (v.endsWith('%') ? parseFloat(v) / 100 : +v));
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    // Other syntaxes (color(srgb ...), oklch(...), named colours): let the canvas paint one pixel.
    rtCtx.clearRect(0, 0, 1, 1);
    rtCtx.fillStyle = '#000';
    rtCtx.fillStyle = c;
    rtCtx.fillRect(0, 0, 1, 1);
    const d = rtCtx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
};
/** `top` painted over `bottom` (both non-premultiplied RGBA). */
const over = (top, bottom) => {
    const a = top[3] + bottom[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    const ch = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
    return [ch(0), ch(1), ch(2), a];
};
const fade = (c, opacity) => [c[0], c[1], c[2], c[3] * opacity];
const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
};
const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
};
const hex = (c) => '#' + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
/** What the page shows under everything: the body's background, else the html element's, else white. */
const pageBackground = () => {
    for (const e of [document.body, document.documentElement]) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) return over(c, [255, 255, 255, 1]);
    }
    return [255, 255, 255, 1];
};
/** The text colour and the background as seen on screen, for text drawn in `el` with colour `colour`:
    every ancestor's background composited under it, and every ancestor's opacity applied to what it holds. */
const seen = (el, colour, base) => {
    let fg = parse(colour);
    let bg = [0, 0, 0, 0];
    for (let e = el; e; e = e.parentElement) {
        const cs = getComputedStyle(e);
        const own = parse(cs.backgroundColor);
        fg = over(fg, own);
        bg = over(bg, own);
        const o = parseFloat(cs.opacity);
        if (o < 1) { fg = fade(fg, o); bg = fade(bg, o); }
    }
    return [over(fg, base), over(bg, base)];
};
/** A short, readable path from `root` to `el`: tag, data-rt, rtwidget classes. */
const pathOf = (el, root) => {
    const parts = [];
    for (let e = el; e && e !== root.parentElement; e = e.parentElement) {
        let s = e.tagName.toLowerCase();
        if (e.dataset && e.dataset.rt) s += `[data-rt=${e.dataset.rt}]`;
        const cls = Array.from(e.classList).filter((c) => c.startsWith('rtwidget-'));
        if (cls.length) s += '.' + cls.join('.');
        parts.unshift(s);
    }
    return parts.slice(-5).join(' > ');
};
const shown = (el) => {
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || cs.display === 'none') return false;
    if (el.checkVisibility && !el.checkVisibility({checkVisibilityCSS: true})) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
};
"""

# Every visible text in the root: elements with their own non-blank text nodes, form controls with a value,
# selects (the chosen option's label), placeholders of empty inputs. Disabled controls are skipped (WCAG
# exempts inactive components), as is anything hidden or of zero size.
CONTRAST_JS = (
    "(root, minimum) => {"
    + _COLOUR_LIB
    + r"""
    const base = pageBackground();
    const failures = [];
    let checked = 0, placeholders = 0;
    const own = (el) => Array.from(el.childNodes)
        .filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join('').trim();
    const check = (el, text, colour, what) => {
        const [fg, bg] = seen(el, colour, base);
        const r = ratio(fg, bg);
        checked += 1;
        if (r < minimum) {
            const cs = getComputedStyle(el);
            failures.push({path: pathOf(el, root), what, text: text.slice(0, 60), fg: hex(fg), bg: hex(bg),
                           ratio: Math.round(r * 100) / 100, font: `${cs.fontWeight} ${cs.fontSize}`});
        }
    };
    for (const el of [root, ...root.querySelectorAll('*')]) {
        if (el.matches('option, script, style, template') || el.closest(':disabled, [aria-disabled=true]')) continue;
        if (!shown(el)) continue;
        const cs = getComputedStyle(el);
        const text = own(el);
        if (text) check(el, text, cs.color, 'text');
        if (el.matches('select')) {
            const label = el.selectedOptions.length ? el.selectedOptions[0].textContent.trim() : '';
            if (label) check(el, label, cs.color, 'select');
        } else if (el.matches('input:not([type=checkbox]):not([type=radio]):not([type=range]), textarea')) {
            if (el.value) check(el, el.value, cs.color, 'value');
            else if (el.placeholder) {
                placeholders += 1;
                check(el, el.placeholder, getComputedStyle(el, '::placeholder').color, 'placeholder');
            }
        }
    }
    return {checked, placeholders, failures};
}
"""
)

# Horizontal clipping: the root's own overflow, and every visible descendant whose visible part (clipped by
# the scrolling or clipping boxes between it and the root) reaches past the root's right edge.
CLIPPING_JS = (
    "(root) => {"
    + _COLOUR_LIB
    + r"""
    const edge = root.getBoundingClientRect().right;
    const beyond = [];
    for (const el of root.querySelectorAll('*')) {
        if (!shown(el)) continue;
        let right = el.getBoundingClientRect().right;
        let left = el.getBoundingClientRect().left;
        for (let e = el.parentElement; e && e !== root; e = e.parentElement) {
            const cs = getComputedStyle(e);
            if (cs.overflowX !== 'visible') {
                const r = e.getBoundingClientRect();
                right = Math.min(right, r.right);
                left = Math.max(left, r.left);
            }
        }
        if (right > left && right > edge + 1) {
            const text = (el.textContent || '').slice(0, 40);
            beyond.push({el, path: pathOf(el, root), by: Math.round(right - edge), text});
        }
    }
    // Name only the outermost element of each overflowing subtree (its descendants overflow with it).
    const overflowing = new Set(beyond.map((b) => b.el));
    const outermost = beyond.filter((b) => !overflowing.has(b.el.parentElement)).map(({el, ...b}) => b);
    const scrollers = [];
    for (const sel of ['.jp-OutputArea-output', '.jp-OutputArea-child', '.jp-OutputArea', '.jp-Cell-outputWrapper',
                       '.jp-Cell']) {
        const e = root.closest(sel);
        if (e && e.scrollWidth > e.clientWidth + 1) scrollers.push({selector: sel, scrollWidth: e.scrollWidth,
                                                                    clientWidth: e.clientWidth});
    }
    // The notebook's own scroller (JupyterLab's windowed list, Notebook 7's panel) must not scroll sideways.
    const outer = root.closest('.jp-WindowedPanel-outer') || root.closest('.jp-Notebook');
    if (outer && outer.scrollWidth > outer.clientWidth + 1) {
        scrollers.push({selector: 'notebook scroller', scrollWidth: outer.scrollWidth, clientWidth: outer.clientWidth});
    }
    return {rootScrollWidth: root.scrollWidth, rootClientWidth: root.clientWidth,
            rootWidth: root.getBoundingClientRect().width, beyond: outermost.slice(0, 20), beyondCount: beyond.length,
            scrollers};
}
"""
)

# Cells of the event log's header and of the rows in view whose text shows cut: narrower than their text, or
# reaching past the row's right edge (every cell but the summary, which is meant to give way). A cell the row
# squeezed to nothing, or pushed wholly past its edge, has given way (log.css lets size, then time, go first):
# it is listed with `gone: true`, not as cut. One entry per distinct cell class and text.
CUT_LOG_CELLS_JS = r"""
() => {
    const out = new Map();
    const lines = document.querySelectorAll('[data-rt=log-head], .rtwidget-log-viewport [data-rt=log-row]');
    for (const line of lines) {
        const edge = line.getBoundingClientRect().right;
        if (line.getBoundingClientRect().height === 0) continue;
        for (const cell of line.children) {
            const text = cell.textContent.trim();
            if (!text || cell.classList.contains('rtwidget-log-text')) continue;
            const box = cell.getBoundingClientRect();
            const gone = cell.clientWidth === 0 || box.left >= edge - 1;
            if (cell.scrollWidth > cell.clientWidth + 1 || box.right > edge + 1) {
                const name = Array.from(cell.classList).join('.');
                const [scrollWidth, clientWidth] = [cell.scrollWidth, cell.clientWidth];
                const key = `${name}|${text}|${gone}`;
                const pastEdge = Math.round(box.right - edge);
                out.set(key, {cell: name, text, scrollWidth, clientWidth, gone, pastEdge});
            }
        }
    }
    return Array.from(out.values()).slice(0, 40);
}
"""

# The width of the notebook panel and of the viewport (for sizing the viewport to a notebook width).
_WIDTHS_JS = """
() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')
        || document.querySelector('.jp-Notebook');
    return {viewport: window.innerWidth, notebook: panel ? panel.getBoundingClientRect().width : 0};
}
"""


def contrast_of(nb: NotebookPage, minimum: float = MIN_CONTRAST) -> dict[str, Any]:
    """The contrast scan of the first widget on the page: `{checked, placeholders, failures}`."""
    return dict(nb.page.locator(".rtwidget-root").first.evaluate(CONTRAST_JS, minimum))


def clipping_of(nb: NotebookPage) -> dict[str, Any]:
    """The clipping figures of the first widget on the page (see CLIPPING_JS)."""
    return dict(nb.page.locator(".rtwidget-root").first.evaluate(CLIPPING_JS))


def clipping_problems(clip: dict[str, Any]) -> list[str]:
    """What is wrong in one `clipping_of` result, in words (empty when nothing is clipped)."""
    problems = []
    if clip["rootScrollWidth"] > clip["rootClientWidth"] + 1:
        problems.append(
            f"the widget scrolls sideways: scrollWidth {clip['rootScrollWidth']} > {clip['rootClientWidth']}"
        )
    for b in clip["beyond"]:
        problems.append(f"{b['path']} ({b['text']!r}) reaches {b['by']} px past the widget's right edge")
    for s in clip["scrollers"]:
        problems.append(f"{s['selector']} scrolls sideways: {s['scrollWidth']} > {s['clientWidth']}")
    return problems


def sidebars(nb: NotebookPage, file_browser: bool) -> None:
    """Close both side areas, or open the file browser on the left (JupyterLab only; Notebook 7 has none open)."""
    nb.js(
        """(open) => {
            const shell = window.jupyterapp.shell;
            if (shell.collapseRight) shell.collapseRight();
            if (open) shell.activateById('filebrowser');
            else if (shell.collapseLeft) shell.collapseLeft();
        }""",
        file_browser,
    )
    nb.wait_js(
        """(open) => {
            const fb = document.getElementById('filebrowser');
            const shown = !!fb && fb.getBoundingClientRect().width > 0 && !fb.closest('.lm-mod-hidden');
            return shown === open;
        }""",
        file_browser,
        what="the file browser " + ("open" if file_browser else "closed"),
    )


def _resize(nb: NotebookPage, width: int, height: int) -> dict[str, float]:
    """Set the viewport, wait until the page has it and JupyterLab laid out again; returns the widths."""
    nb.page.set_viewport_size({"width": width, "height": height})
    nb.wait_js(f"() => window.innerWidth === {width} && window.innerHeight === {height}", what="the new window size")
    # JupyterLab lays out on later frames, and may restore or collapse a side bar after a resize: read until the
    # notebook's width holds still over two settled reads (a CI run once measured it mid-change).
    read = f"() => {{ const w = ({_WIDTHS_JS})(); return w.notebook > 0 && w; }}"
    widths: dict[str, float] = {}
    for _ in range(20):
        settle(nb)
        now = dict(nb.wait_js(read, what="the notebook"))
        if now == widths:
            break
        widths = now
    return widths


def set_notebook_width(nb: NotebookPage, width: int, height: int) -> dict[str, float]:
    """Size the viewport so the notebook panel is `width` px wide (whatever the side bars take)."""
    w = _resize(nb, width + 80, height)
    for _ in range(4):
        if abs(w["notebook"] - width) <= 1:
            break
        w = _resize(nb, round(w["viewport"] + width - w["notebook"]), height)
    return w


def set_viewport_width(nb: NotebookPage, width: int, height: int) -> dict[str, float]:
    """Size the browser window itself (the notebook gets what the side bars leave)."""
    return _resize(nb, width, height)


def settle(nb: NotebookPage) -> None:
    """Wait two animation frames (the widget redraws its panels and log on the next frame after a resize)."""
    nb.page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")
