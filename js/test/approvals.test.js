import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PanelState } from "../../rtwidget/widget/static/panelstate.js";
import { ToolsView, usersCalls } from "../../rtwidget/widget/static/panels.js";
import { approvalText } from "../../rtwidget/widget/static/toolcards.js";
import { domPerTest } from "./fakedom.js";
import { FakeModel } from "./helpers.js";

describe("tool approval in the Tools panel", () => {
  domPerTest();

  it("a waiting call shows Approve / Reject, sends the decision once, then shows it", () => {
    /** @type {object[]} */
    const sent = [];
    const model = new FakeModel({ registered_tools: [{ name: "delete_file", approve: true, approval_timeout: 60 }] });
    const panels = new PanelState();
    const view = new ToolsView(panels, /** @type {any} */ (model), (m) => sent.push(m));
    view.draw();
    const el = /** @type {any} */ (view.el);
    assert.match(el.querySelector('[data-rt="registered-tool"]').textContent, /asks for approval \(60 s\)/);
    const pending = { call_id: "c1", name: "delete_file", arguments: '{"path":"a"}', status: "waiting", approval: "pending", approval_timeout: null };
    panels.apply({ tools: [pending] });
    view.draw();
    const row = el.querySelector('[data-rt="tool-row"]');
    const approval = row.querySelector('[data-rt="tool-approval"]');
    assert.equal(approval.hidden, false);
    assert.match(row.textContent, /waiting for approval/);
    assert.match(approval.textContent, /Run this call\?/);
    const approve = row.querySelector('[data-testid="approve-c1"]');
    const reject = row.querySelector('[data-testid="reject-c1"]');
    assert.equal(approve.tagName, "BUTTON", "a real button: keyboard reachable");
    row.querySelector('[data-rt="tool-reason"]').value = "not that one";
    reject.click();
    assert.deepEqual(sent, [{ kind: "reject", reason: "not that one", call_id: "c1" }]);
    assert.equal(approve.disabled && reject.disabled, true, "one decision per click");
    panels.apply({
      tools: [{ call_id: "c1", status: "declined", approval: "rejected", approval_reason: "not that one", approval_by: "user", output: '{"declined": true, "reason": "not that one"}' }],
    });
    view.draw();
    assert.equal(approve.hidden && reject.hidden, true);
    assert.match(approval.textContent, /Rejected by you: not that one/);
    assert.equal(row.querySelector('[data-rt="tool-traceback"]').hidden, true, "a rejection is no failure");
  });

  it("Approve sends the call id; calls that never asked show no approval row", () => {
    /** @type {object[]} */
    const sent = [];
    const panels = new PanelState();
    const view = new ToolsView(panels, /** @type {any} */ (new FakeModel({})), (m) => sent.push(m));
    panels.apply({
      tools: [
        { call_id: "c2", name: "drop_table", status: "waiting", approval: "pending", approval_timeout: 5 },
        { call_id: "c3", name: "get_time", status: "running" },
      ],
    });
    view.draw();
    const el = /** @type {any} */ (view.el);
    const [asked, plain] = el.querySelectorAll('[data-rt="tool-row"]');
    assert.match(asked.textContent, /rejected after 5 s without a decision/);
    asked.querySelector('[data-testid="approve-c2"]').click();
    assert.deepEqual(sent, [{ kind: "approve", call_id: "c2" }]);
    assert.equal(plain.querySelector('[data-rt="tool-approval"]').hidden, true);
  });

  it("says how a call was decided", () => {
    assert.equal(approvalText({ call_id: "c", approval: "approved" }), "Approved: it ran.");
    assert.equal(
      approvalText({ call_id: "c", approval: "rejected", approval_by: "timeout", approval_reason: "no one approved it within 5 s" }),
      "Rejected: no one approved it within 5 s",
    );
    assert.equal(approvalText({ call_id: "c", approval: "rejected", approval_by: "user" }), "Rejected by you");
    assert.equal(approvalText({ call_id: "c", approval: "cancelled" }), "Not decided: the session closed.");
    assert.equal(approvalText({ call_id: "c" }), "");
  });

  it("a call rtwidget did not take (a raw-declared tool) shows as the user's, then as answered", () => {
    const panels = new PanelState();
    const view = new ToolsView(panels, /** @type {any} */ (new FakeModel({})), () => {});
    const call = { id: "i1", type: "function_call", status: "completed", name: "lookup_order", call_id: "c9", arguments: '{"order":7}', response_id: "r1" };
    panels.apply({ items: [call], responses: [{ id: "r1", status: "in_progress" }] });
    view.draw();
    const el = /** @type {any} */ (view.el);
    assert.equal(el.querySelectorAll('[data-rt="tool-row"]').length, 0, "not before its response is done");
    panels.apply({ responses: [{ id: "r1", status: "completed" }] });
    view.draw();
    const [row] = el.querySelectorAll('[data-rt="tool-row"]');
    assert.equal(row.dataset.status, "yours");
    assert.match(row.textContent, /yours: answer it with a function_call_output/);
    assert.match(row.textContent, /lookup_order/);
    panels.apply({ items: [{ id: "i2", type: "function_call_output", call_id: "c9", output: "shipped" }] });
    view.draw();
    assert.equal(row.dataset.status, "answered");
    assert.match(row.textContent, /answered by you/);
    assert.match(row.textContent, /shipped/);
    // A call rtwidget takes after all (a ToolView comes) reuses the card; a deleted item takes its card away.
    panels.apply({ tools: [{ call_id: "c9", name: "lookup_order", status: "running" }] });
    view.draw();
    assert.equal(el.querySelectorAll('[data-rt="tool-row"]').length, 1);
    assert.equal(row.dataset.status, "running");
    assert.deepEqual(usersCalls(panels), []);
    const other = { ...call, id: "i3", call_id: "c10" };
    panels.apply({ items: [other] });
    view.draw();
    assert.equal(el.querySelectorAll('[data-rt="tool-row"]').length, 2);
    panels.apply({ items: [{ id: "i3", deleted: true }] });
    view.draw();
    assert.equal(el.querySelectorAll('[data-rt="tool-row"]').length, 1);
  });
});
