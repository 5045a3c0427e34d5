import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connectionButtons, placeName, primaryAction, statusLine } from "../../rtwidget/widget/static/statusline.js";
import { FakeModel } from "./helpers.js";

const LOCAL = { kind: "local", label: "local", model: "gpt-realtime", dialect: "ga" };
const OPENAI = { kind: "openai", label: "OpenAI", model: "gpt-realtime", dialect: "ga" };
const AZURE_BETA = { kind: "azure", label: "Azure (myres)", model: "my-deployment", dialect: "beta" };

/**
 * @param {Record<string, any>} traits
 * @param {number} [now]
 */
function status(traits, now = 1000) {
  return statusLine(new FakeModel({ endpoint: LOCAL, connected_at: 0, expires_at: 0, status_message: "", ...traits }), now);
}

/** @param {Record<string, any>} traits */
function line(traits, now = 1000) {
  return status(traits, now).text;
}

describe("statusLine", () => {
  it("says where it is connected in plain words, the model and the time left; 'connected' once", () => {
    const text = line({ status: "connected", connected_at: 935, expires_at: 2800 });
    assert.equal(text, "Connected to the local server (offline stand-in) \u00b7 gpt-realtime \u00b7 30:00 left");
    assert.equal(text.toLowerCase().split("connected").length - 1, 1, "'connected' appears once");
    assert.equal(line({ status: "connected", endpoint: OPENAI }), "Connected to OpenAI \u00b7 gpt-realtime");
    const custom = { kind: "custom", label: "example.com:8443", model: "m", dialect: "ga" };
    assert.equal(line({ status: "connected", endpoint: custom }), "Connected to example.com:8443 \u00b7 m");
  });

  it("says a replay is one: the recorded status follows the cassette's name", () => {
    const replay = { name: "lesson.cassette", duration: 12, position: 3, speed: 1, playing: true };
    assert.equal(
      line({ status: "connected", endpoint: OPENAI, replay }),
      "Replay of lesson.cassette \u00b7 recorded: Connected to OpenAI \u00b7 gpt-realtime",
    );
    assert.equal(line({ status: "connected", endpoint: OPENAI, replay: {} }), "Connected to OpenAI \u00b7 gpt-realtime");
  });

  it("names the dialect only when it is not GA", () => {
    assert.equal(line({ status: "connected", endpoint: AZURE_BETA }), "Connected to Azure \u00b7 my-deployment \u00b7 beta protocol");
    assert.doesNotMatch(line({ status: "connected", endpoint: OPENAI }), /ga|protocol/i);
  });

  it("keeps the rest for the tooltip: endpoint label, protocol, connected since", () => {
    const { title } = status({ status: "connected", endpoint: AZURE_BETA, connected_at: 935 });
    assert.match(title, /^Endpoint: Azure \(myres\) \(azure\)$/m);
    assert.match(title, /^Protocol: beta$/m);
    assert.match(title, /^Connected since .+ \(1:05\)$/m);
    assert.match(status({ status: "connected", endpoint: OPENAI }).title, /^Protocol: GA$/m);
  });

  it("leads with a reconnecting message in place of the status word", () => {
    const message = "reconnecting (attempt 2, in 1.5 s): the server closed the connection with code 1011";
    assert.equal(
      line({ status: "reconnecting", status_message: message, endpoint: OPENAI }),
      `Reconnecting (attempt 2, in 1.5 s): the server closed the connection with code 1011 \u00b7 OpenAI \u00b7 gpt-realtime`,
    );
  });

  it("says what a reconnect restored, and the expiry warning, after the clocks", () => {
    const message = "reconnected: 6 items restored, 1 not restored (audio without a transcript)";
    const text = line({ status: "connected", status_message: message, endpoint: OPENAI, expires_at: 1060 });
    assert.equal(text, `Connected to OpenAI \u00b7 gpt-realtime \u00b7 1:00 left \u2014 ${message}`);
    const warning = "the session ends in 5:00 (its time limit): start a new session then";
    assert.match(line({ status: "connected", status_message: warning, expires_at: 1300 }), /5:00 left \u2014 the session ends/);
  });

  it("says connecting, disconnected and could-not-connect plainly", () => {
    assert.equal(line({ status: "connecting", endpoint: OPENAI }), "Connecting to OpenAI\u2026 \u00b7 gpt-realtime");
    const stale = "closed (code 1000): closed by session.close()";
    assert.equal(line({ status: "connecting", endpoint: OPENAI, status_message: stale }), "Connecting to OpenAI\u2026 \u00b7 gpt-realtime");
    assert.equal(line({ status: "closed", status_message: "closed (code 1000)" }), "Disconnected (code 1000)");
    assert.equal(line({ status: "error", status_message: "could not connect: HTTP 401" }), "Could not connect: HTTP 401");
    assert.equal(line({ status: "idle", status_message: "could not connect" }), "Could not connect");
    assert.equal(line({ status: "idle", endpoint: {} }), "Not connected");
    assert.equal(line({ status: "closing" }), "Closing");
  });

  it("names places by kind, else by label", () => {
    assert.equal(placeName({ kind: "local", label: "local" }), "the local server (offline stand-in)");
    assert.equal(placeName({ kind: "azure", label: "Azure (x)" }), "Azure");
    assert.equal(placeName({ kind: "custom", label: "h:1" }), "h:1");
    assert.equal(placeName({}), "");
  });
});

describe("primaryAction", () => {
  it("says its action: Start talking, then Stop", () => {
    assert.equal(primaryAction("off", "connected").label, "Start talking");
    assert.equal(primaryAction("starting", "connected").label, "Starting\u2026");
    assert.equal(primaryAction("on", "connected").label, "Stop");
    assert.equal(primaryAction("on", "connected").stop, true);
    assert.equal(primaryAction("off", "connected").stop, false);
  });

  it("tells that it connects first when there is no connection", () => {
    assert.match(primaryAction("off", "idle").title, /^Connect, then start/);
    assert.match(primaryAction("off", "closed").title, /^Connect, then start/);
    assert.doesNotMatch(primaryAction("off", "connected").title, /Connect/);
  });
});

describe("connectionButtons", () => {
  it("offers Disconnect while a connection is held, made or remade; Connect otherwise; neither while closing", () => {
    for (const s of ["connecting", "connected", "reconnecting"]) {
      assert.deepEqual(connectionButtons(s), { connect: false, disconnect: true }, s);
    }
    for (const s of ["idle", "closed", "error"]) {
      assert.deepEqual(connectionButtons(s), { connect: true, disconnect: false }, s);
    }
    assert.deepEqual(connectionButtons("closing"), { connect: false, disconnect: false });
  });
});
