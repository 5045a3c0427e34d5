import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectionButtons, statusLine } from "../../rtwidget/widget/static/controls.js";
import { FakeModel } from "./helpers.js";

const EP = { kind: "local", label: "local server", model: "m1", dialect: "ga" };
const WHERE = "local server (local) \u00b7 m1 \u00b7 ga";

/** @param {Record<string, any>} traits */
function line(traits, now = 1000) {
  return statusLine(new FakeModel({ endpoint: EP, connected_at: 0, expires_at: 0, ...traits }), now).text;
}

describe("statusLine", () => {
  it("leads with a reconnecting message in place of the status word", () => {
    const message = "reconnecting (attempt 2, in 1.5 s): the server closed the connection with code 1011";
    assert.equal(line({ status: "reconnecting", status_message: message }), `${message} \u00b7 ${WHERE}`);
  });

  it("says what a reconnect restored after the connected clocks", () => {
    const message = "reconnected: 6 items restored, 1 not restored (audio without a transcript)";
    const text = line({ status: "connected", status_message: message, connected_at: 995, expires_at: 1060 });
    assert.equal(text, `connected \u00b7 ${WHERE} \u00b7 connected 0:05 \u00b7 1:00 left \u2014 ${message}`);
  });

  it("shows the expiry warning, and a close with its code", () => {
    const warning = "the session ends in 5:00 (its time limit): start a new session then";
    assert.match(line({ status: "connected", status_message: warning, expires_at: 1300 }), /5:00 left \u2014 the session ends/);
    assert.equal(line({ status: "closed", status_message: "closed (code 1000)" }), `closed (code 1000) \u00b7 ${WHERE}`);
    assert.equal(line({ status: "error", status_message: "could not connect: HTTP 401" }), `error \u00b7 ${WHERE} \u2014 could not connect: HTTP 401`);
    assert.equal(line({ status: "idle", status_message: "", endpoint: {} }), "idle");
  });
});

describe("connectionButtons", () => {
  it("offers Disconnect while a connection is held, made or remade; Connect otherwise; neither while closing", () => {
    for (const status of ["connecting", "connected", "reconnecting"]) {
      assert.deepEqual(connectionButtons(status), { connect: false, disconnect: true }, status);
    }
    for (const status of ["idle", "closed", "error"]) {
      assert.deepEqual(connectionButtons(status), { connect: true, disconnect: false }, status);
    }
    assert.deepEqual(connectionButtons("closing"), { connect: false, disconnect: false });
  });
});
