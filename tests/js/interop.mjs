// A JavaScript automerge-repo client, as another team's app would use it.
// Usage: node interop.mjs <ws url> <peer id> <document url> <measure id> <text to append>
// The URL carries the session token and the peer id's own part
// (`/sync?token=…&peer=…`); the peer id is `user<id>.<that part>`.
// Prints {"text": ...} with the measure's text, appends to it, prints
// "changed", and keeps syncing until its standard input closes.
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import * as A from "@automerge/automerge";

const [url, peerId, docUrl, measureId, suffix] = process.argv.slice(2);
const repo = new Repo({ peerId, network: [new BrowserWebSocketClientAdapter(url)] });
const handle = await repo.find(docUrl);
const doc = handle.doc();

let path = null;
doc.dimensions.forEach((d, i) =>
  d.measures.forEach((m, j) => {
    // Ids are scalar strings, which automerge 3 reads as ImmutableString.
    if (String(m.id) === measureId) path = ["dimensions", i, "measures", j, "text"];
  }),
);
if (!path) {
  console.error(`no measure ${measureId}`);
  process.exit(2);
}
const text = path.reduce((o, k) => o[k], doc);
console.log(JSON.stringify({ text: String(text) }));

handle.change((d) => A.splice(d, path, String(text).length, 0, suffix));
console.log("changed");

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
