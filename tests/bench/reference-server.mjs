// The reference sync server, built as automerge-repo-sync-server builds it:
// an automerge-repo Repo with NodeWSServerAdapter and NodeFSStorageAdapter,
// sharing nothing unasked (sharePolicy false).
// Usage: node reference-server.mjs <data dir>
// Prints "Listening on http://127.0.0.1:PORT/" once it accepts connections.
import http from "node:http";
import os from "node:os";
import { WebSocketServer } from "ws";
import { Repo } from "@automerge/automerge-repo";
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";

const [dir] = process.argv.slice(2);
const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("automerge-repo sync server\n");
});
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});
new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `storage-server-${os.hostname()}`,
  sharePolicy: async () => false,
});
// The adapter takes connections only once the repo has loaded its storage
// id; a socket accepted before that is reset, so listen after.
while (wss.listenerCount("connection") === 0) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
server.listen(0, "127.0.0.1", () => {
  console.log(`Listening on http://127.0.0.1:${server.address().port}/`);
});
