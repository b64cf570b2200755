// The reference client for the benchmark: what a user writes after reading Microsoft's
// "receive change notifications through socket.io" page. Ask Graph for the socketIo
// endpoint, connect with the official socket.io client (websocket transport), and write
// each notification with one console.log(JSON.stringify(…)).
//
//   node watch.js GRAPH_URL ACCESS_TOKEN [COUNT]
//
// GRAPH_URL is e.g. http://127.0.0.1:PORT/v1.0. Exits 0 after COUNT notifications (runs
// until killed without it). The harness (bench/run) learns that the socket joined from
// the "connected" line on stderr, as it does from graphwatch's "watching …" line.
"use strict";

const { io } = require("socket.io-client");

const [graph, token, count] = process.argv.slice(2);
const limit = count ? Number.parseInt(count, 10) : Infinity;

async function main() {
  const response = await fetch(`${graph}/me/drive/root/subscriptions/socketIo`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`socketIo request failed: ${response.status}`);
  const { notificationUrl } = await response.json();

  // As in the docs: the endpoint before the query, the query handed over as it is.
  const [endpoint, query] = notificationUrl.split("?");
  const socket = io(endpoint, { query, transports: ["websocket"] });

  let received = 0;
  socket.on("connect", () => console.error("connected"));
  socket.on("connect_error", (err) => console.error("connect_error", err.message));
  socket.on("notification", (data) => {
    const notifications = JSON.parse(data).value;
    for (const notification of notifications) {
      console.log(JSON.stringify(notification));
    }
    received += 1;
    // Close and let Node exit once stdout has drained: process.exit() here would drop
    // the lines still queued for a pipe that is full.
    if (received >= limit) socket.close();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
