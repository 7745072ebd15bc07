// A JavaScript automerge-repo client in a document's presence, as another
// team's app would use automerge-repo's own `Presence`.
// Usage: node presence.mjs <ws url> <peer id> <document url> <name> <unit> [heartbeat ms]
// Prints one JSON line, the list of the others present ({peer, name, unit,
// field, typing}), each time it changes. Commands on standard input, one per
// line: `field <key>` (in that text), `typing` (typing there), `bye` (say
// goodbye, as on leaving, and exit). When standard input closes it exits
// without a word, as a phone that loses its connection does.
import { createInterface } from "node:readline";
import { Repo, Presence } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [url, peerId, docUrl, name, unit, heartbeat] = process.argv.slice(2);
const repo = new Repo({ peerId, network: [new BrowserWebSocketClientAdapter(url)] });
const handle = await repo.find(docUrl);

const presence = new Presence({ handle });
let last = null;
const report = () => {
  const others = Object.values(presence.getPeerStates().value)
    .map((p) => ({ peer: p.peerId, ...p.value }))
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const line = JSON.stringify(others);
  if (line !== last) {
    last = line;
    console.log(line);
  }
};
for (const event of ["snapshot", "update", "goodbye", "pruning", "heartbeat"]) {
  presence.on(event, report);
}
presence.start({
  initialState: { name, unit, field: null, typing: false },
  heartbeatMs: heartbeat ? Number(heartbeat) : undefined,
});
report();

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [command, ...rest] = line.trim().split(" ");
  if (command === "field") presence.broadcast("field", rest.join(" ") || null);
  if (command === "typing") presence.broadcast("typing", true);
  if (command === "bye") {
    presence.stop();
    // Let the goodbye leave before the socket closes.
    setTimeout(() => process.exit(0), 300);
  }
});
lines.on("close", () => process.exit(0));
