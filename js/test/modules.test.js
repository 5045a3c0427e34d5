// The shape the join needs (rtwidget/widget/bundle.py strips the relative imports and puts the files
// of widget.js's import graph in one scope): every relative import names a sibling that exports it,
// no import cycle, every top-level name unique across the joined files, one default export, and
// every file under 500 lines.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { STATIC_DIR, readStatic, stripImports } from "./helpers.js";

const MAX_LINES = 500;
const FILES = readdirSync(STATIC_DIR).filter((f) => f.endsWith(".js"));
const WORKLETS = FILES.filter((f) => f.endsWith("-worklet.js"));

/**
 * The relative imports of a file: [{names, file}].
 * @param {string} source
 * @returns {{names: string[], file: string}[]}
 */
function importsOf(source) {
  const found = [];
  for (const m of source.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"\.\/([\w.-]+\.js)";/gm)) {
    found.push({ names: m[1].split(",").map((n) => n.trim()).filter(Boolean), file: m[2] });
  }
  return found;
}

/**
 * Names declared at the top level (no indentation) of a file.
 * @param {string} source
 * @returns {string[]}
 */
function topLevelNames(source) {
  const decl = /^(?:export\s+)?(?:async\s+)?(?:function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm;
  return [...source.matchAll(decl)].map((m) => m[1]);
}

/**
 * @param {string} source
 * @returns {Set<string>}
 */
function exportsOf(source) {
  const decl = /^export\s+(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)/gm;
  return new Set([...source.matchAll(decl)].map((m) => m[1]));
}

/**
 * widget.js and every file it imports, directly or not, each after its imports (throws on a cycle).
 * @param {string} file
 * @param {string[]} [order]
 * @param {string[]} [trail]
 * @returns {string[]}
 */
function joinOrder(file, order = [], trail = []) {
  if (order.includes(file)) return order;
  assert.ok(!trail.includes(file), `import cycle: ${[...trail, file].join(" -> ")}`);
  for (const { file: dep } of importsOf(readStatic(file))) joinOrder(dep, order, [...trail, file]);
  order.push(file);
  return order;
}

describe("the static files", () => {
  it(`are each under ${MAX_LINES} lines`, () => {
    for (const f of FILES) {
      const lines = readStatic(f).split("\n").length;
      assert.ok(lines <= MAX_LINES, `${f} has ${lines} lines`);
    }
  });

  it("import only names their siblings export", () => {
    for (const f of FILES) {
      for (const { names, file } of importsOf(readStatic(f))) {
        assert.ok(FILES.includes(file), `${f} imports ${file}, which does not exist`);
        assert.ok(!WORKLETS.includes(file), `${f} imports the worklet ${file}`);
        const exported = exportsOf(readStatic(file));
        for (const n of names) assert.ok(exported.has(n), `${f} imports ${n}, which ${file} does not export`);
      }
    }
  });

  it("join without a cycle into one scope with unique top-level names and one default export", () => {
    const order = joinOrder("widget.js");
    assert.equal(order.at(-1), "widget.js");
    /** @type {Map<string, string>} */
    const owner = new Map([["WORKLET_SOURCES", "bundle.py"]]);
    for (const f of order) {
      const source = stripImports(readStatic(f));
      assert.doesNotMatch(source, /^import\s/m, `${f}: only relative imports can be joined`);
      for (const name of topLevelNames(source)) {
        assert.ok(!owner.has(name), `${name} is declared in both ${owner.get(name)} and ${f}`);
        owner.set(name, f);
      }
      const defaults = source.match(/^export default /gm) ?? [];
      assert.equal(defaults.length, f === "widget.js" ? 1 : 0, `${f}: default exports`);
    }
    const unused = FILES.filter((f) => !order.includes(f) && !WORKLETS.includes(f));
    assert.deepEqual(unused, [], "every module is reachable from widget.js");
  });
});
