import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ItemPlayer, ItemPlayerView, recordingLabel, saveFile } from "../../rtwidget/widget/static/media.js";
import { domPerTest } from "./fakedom.js";
import { loadWorklet, tick } from "./helpers.js";

/**
 * A model state as the item player sees it, whose item node is a real playback worklet processor: what the
 * player posts reaches the processor, and the processor's reports come back as the node's would.
 */
async function ownerWithWorklet() {
  const w = await loadWorklet("playback", { sampleRate: 24000 });
  const proc = new w.Processor({ processorOptions: { startMs: 0 } });
  /** @type {(m: any) => void} */
  let report = () => {};
  const node = {
    port: {
      postMessage: (/** @type {any} */ data) => proc.port.deliver(structuredClone(data)),
    },
  };
  const owner = {
    /** @type {any[]} */
    sent: [],
    /** @type {string[]} */
    emitted: [],
    /** @type {string[]} */
    notices: [],
    send(/** @type {any} */ m) {
      this.sent.push(m);
    },
    emit(/** @type {string} */ what) {
      this.emitted.push(what);
    },
    notice(/** @type {string} */ _level, /** @type {string} */ text) {
      this.notices.push(text);
    },
    playback: {
      onItemGone: () => {},
      itemNode: async (/** @type {(m: any) => void} */ cb) => {
        report = cb;
        return node;
      },
    },
  };
  /** Render `n` quanta and hand the processor's reports to the player, as the node's port listener does. */
  const render = (/** @type {number} */ n) => {
    for (let i = 0; i < n; i++) proc.process([], [[new Float32Array(128)]], {});
    for (const m of proc.port.take()) report(m);
  };
  return { owner, render };
}

/** @param {number} samples @returns {DataView} PCM16 of a ramp */
function pcm(samples) {
  const a = new Int16Array(samples).map((_, i) => (i % 200) * 100);
  return new DataView(a.buffer);
}

describe("item audio played on click", () => {
  domPerTest();

  it("plays the heard part to its end and reports exactly the samples played, final", async () => {
    const { owner, render } = await ownerWithWorklet();
    const player = new ItemPlayer(/** @type {any} */ (owner));
    player.play({ kind: "item_audio", item_id: "it1", role: "assistant", samples: 12000, heard_samples: 4800 }, pcm(4800));
    await tick();
    render(20); // 2560 samples: playing, one progress report (every 2400)
    assert.equal(player.current?.playing, true);
    assert.equal(player.current?.played, 2432);
    assert.deepEqual(owner.sent.at(-1), { kind: "item_played", item_id: "it1", samples: 2432, final: false });
    render(40); // past its end
    const reports = owner.sent.filter((m) => m.kind === "item_played");
    assert.deepEqual(reports.at(-1), { kind: "item_played", item_id: "it1", samples: 4800, final: true });
    assert.equal(reports.filter((m) => m.final).length, 1);
    assert.equal(player.current?.playing, false);
    assert.ok(!owner.sent.some((m) => m.kind === "played"), "the live playhead's reports are not used");
  });

  it("a second click on the item playing stops it; a click on another asks the kernel", async () => {
    const { owner, render } = await ownerWithWorklet();
    const player = new ItemPlayer(/** @type {any} */ (owner));
    player.play({ item_id: "it1", role: "assistant", samples: 24000, heard_samples: 24000 }, pcm(24000));
    await tick();
    render(10);
    player.toggle("it1");
    render(1);
    const final = owner.sent.filter((m) => m.kind === "item_played" && m.final);
    assert.equal(final.length, 1);
    assert.equal(final[0].samples, 1280);
    player.toggle("it1"); // stopped: a click plays it again (from the kernel's copy)
    player.toggle("it2");
    assert.deepEqual(
      owner.sent.filter((m) => m.kind === "play_item").map((m) => m.item_id),
      ["it1", "it2"],
    );
    // Played again: a new key in the worklet, so its count starts at 0 (the flushed one is not reused).
    player.play({ item_id: "it1", role: "assistant", samples: 2400, heard_samples: 2400 }, pcm(2400));
    await tick();
    render(30);
    assert.deepEqual(owner.sent.at(-1), { kind: "item_played", item_id: "it1", samples: 2400, final: true });
  });

  it("stopped before its node was ready, the item never plays", async () => {
    const { owner, render } = await ownerWithWorklet();
    const player = new ItemPlayer(/** @type {any} */ (owner));
    player.play({ item_id: "it1", role: "assistant", samples: 4800, heard_samples: 4800 }, pcm(4800));
    player.toggle("it1"); // a second click while the item node is still being made
    await tick();
    render(40);
    const reports = owner.sent.filter((m) => m.kind === "item_played");
    assert.deepEqual(reports, [{ kind: "item_played", item_id: "it1", samples: 0, final: true }]);
    assert.equal(player.current?.playing, false);
  });

  it("the player under the item shows the heard part, the cut part and the position; clicks are delegated", async () => {
    const { owner, render } = await ownerWithWorklet();
    const player = new ItemPlayer(/** @type {any} */ (owner));
    const conversation = document.createElement("div");
    const item = document.createElement("div");
    item.dataset.rt = "item";
    item.dataset.id = "it1";
    const words = document.createElement("div");
    const button = document.createElement("button");
    item.append(words, button);
    conversation.appendChild(item);
    const view = new ItemPlayerView(player, conversation, new AbortController().signal);
    /** @type {any} */ (words).click();
    assert.deepEqual(owner.sent.at(-1), { kind: "play_item", item_id: "it1" });
    /** @type {any} */ (button).click(); // a button inside an item keeps its click
    assert.equal(owner.sent.length, 1);
    player.play({ item_id: "it1", role: "assistant", samples: 12000, heard_samples: 4800 }, pcm(4800));
    await tick();
    render(19); // 2432 samples
    view.draw();
    const el = /** @type {any} */ (item).querySelector('[data-rt="item-player"]');
    assert.ok(el, "the player is drawn under the item");
    const cut = el.querySelector('[data-rt="item-player-cut"]');
    assert.equal(cut.title, "cut: never heard");
    assert.equal(cut.hidden, false);
    assert.equal(cut.style.width, "60.00%");
    assert.equal(el.querySelector(".rtwidget-item-player-heard").style.width, "40.00%");
    assert.equal(el.querySelector(".rtwidget-item-player-head").style.left, `${((100 * 2432) / 12000).toFixed(2)}%`);
    assert.match(el.textContent, /playing 0\.1 s \/ 0\.2 s · cut at 0\.2 s of 0\.5 s/);
    /** @type {any} */ (words).click(); // the item playing: stop
    render(1);
    view.draw();
    assert.equal(el.dataset.playing, "false");
    assert.match(el.textContent, /played/);
  });

  it("the Record button's words follow the recording trait", () => {
    assert.deepEqual(recordingLabel({}, 100).on, false);
    assert.equal(recordingLabel({}, 100).label, "Record");
    const on = recordingLabel({ on: true, path: "rtwidget-20260101-120000.cassette", started_at: 100 }, 175.5);
    assert.deepEqual(on, {
      on: true,
      label: "Recording 1:15 (rtwidget-20260101-120000.cassette)",
      title: "Stop recording: writes rtwidget-20260101-120000.cassette",
    });
  });

  it("a file from the kernel is saved through a Blob and a temporary link", async () => {
    /** @type {any[]} */
    const clicked = [];
    const g = /** @type {any} */ (globalThis);
    const realCreate = URL.createObjectURL;
    URL.createObjectURL = () => "blob:test";
    const proto = Object.getPrototypeOf(document.createElement("a"));
    const realClick = proto.click;
    const realTimeout = g.setTimeout;
    /** @type {number[]} */
    const delays = [];
    g.setTimeout = (/** @type {any} */ _fn, /** @type {number} */ ms) => delays.push(ms);
    proto.click = function () {
      clicked.push({ href: this.href, download: this.download, inBody: g.document.body.contains(this) });
    };
    try {
      const bytes = new TextEncoder().encode("# Conversation\n");
      const blob = saveFile({ name: "t.md", mime: "text/markdown" }, new DataView(bytes.buffer));
      assert.equal(await blob.text(), "# Conversation\n");
      assert.equal(blob.type, "text/markdown");
      assert.deepEqual(clicked, [{ href: "blob:test", download: "t.md", inBody: true }]);
      assert.equal(g.document.body.children.length, 0, "the link is removed");
      assert.equal(delays.length, 1, "the URL is freed later");
    } finally {
      g.setTimeout = realTimeout;
      URL.createObjectURL = realCreate;
      proto.click = realClick;
    }
  });
});
