// An independent socket.io 4 peer for graphwatch's client tests (tests/socket.rs).
//
// Serves what Microsoft Graph's push host serves (docs/graph-socketio.md §2-3):
// Engine.IO 4 over websocket only, namespace /notifications, the credential as `token`
// in the query, and `notification` events whose argument is a JSON *string* holding
// {"value":[…]}.
//
// The first stdout line is the port. Environment:
//   PEER_TOKEN      the token to accept (default "peer-token")
//   PEER_COUNT      notifications to send once a client has joined (default 3)
//   PEER_THEN       what to do after sending: "stay" (default), "disconnect" (socket.io 41),
//                   "close" (end the websocket, no Engine.IO/socket.io close packet),
//                   "reset" (abort the TCP connection: RST, no close frame),
//                   "stall" (stop answering: no more pings; the TCP link stays open)
//   PEER_PING_INTERVAL, PEER_PING_TIMEOUT   Engine.IO ping values in ms (25000 / 20000)
//   PEER_SCRIPT     hostile frames and sizes, see below
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const token = process.env.PEER_TOKEN || "peer-token";
const count = Number(process.env.PEER_COUNT || 3);
const then = process.env.PEER_THEN || "stay";

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  transports: ["websocket"],
  pingInterval: Number(process.env.PEER_PING_INTERVAL || 25000),
  pingTimeout: Number(process.env.PEER_PING_TIMEOUT || 20000),
  serveClient: false,
  // The token in the query is the credential: refuse the upgrade without it, as the
  // live host does, before any Engine.IO session exists.
  allowRequest: (req, callback) => {
    const url = new URL(req.url, "http://peer");
    callback(null, url.searchParams.get("token") === token);
  },
});

const notifications = io.of("/notifications");

// PEER_SCRIPT (JSON array), if set, replaces PEER_COUNT for the first client that joins
// (later ones get the PEER_COUNT notifications): steps run in order, each after the
// previous one was handed to the websocket:
//   {"notification": ID, "pad"?: N}  a live-shaped notification (subscriptionId ID; with
//                                    pad, a "pad" member of N bytes)
//   {"raw": TEXT}                    TEXT as one websocket message, bypassing socket.io
//                                    and Engine.IO (a malformed frame)
//   {"rawBytes": N}                  one websocket text message of N bytes
const script = process.env.PEER_SCRIPT ? JSON.parse(process.env.PEER_SCRIPT) : null;
let scriptUsed = false;

function notificationPayload(id, pad) {
  const element = {
    subscriptionId: id,
    clientState: "system-managed:PEER",
    expirationDateTime: "2026-05-11T21:52:27.52Z",
    resource: `resource-of-${id}`,
    tenantId: "peer-tenant",
    siteUrl: "/personal/peer",
    webId: "peer-web",
  };
  if (pad) element.pad = "x".repeat(pad);
  return JSON.stringify({ value: [element] });
}

async function runScript(socket) {
  const conn = socket.conn;
  const flushed = () =>
    new Promise((resolve) => {
      const check = () =>
        conn.writeBuffer.length === 0 ? resolve() : conn.once("drain", check);
      check();
    });
  for (const step of script) {
    await flushed();
    if (step.notification !== undefined) {
      socket.emit("notification", notificationPayload(step.notification, step.pad));
    } else if (step.raw !== undefined || step.rawBytes !== undefined) {
      const text = step.raw !== undefined ? step.raw : "4".padEnd(step.rawBytes, "x");
      await new Promise((resolve) => conn.transport.socket.send(text, resolve));
    }
  }
}

notifications.on("connection", (socket) => {
  if (script && !scriptUsed) {
    scriptUsed = true;
    runScript(socket).catch((e) => process.stderr.write(`peer script: ${e}\n`));
    return;
  }
  for (let i = 0; i < count; i++) {
    const payload = {
      value: [
        {
          subscriptionId: `peer-subscription-${i}`,
          clientState: "system-managed:PEER",
          expirationDateTime: "2026-05-11T21:52:27.52Z",
          resource: `peer-resource-${i}`,
          tenantId: "peer-tenant",
          siteUrl: "/personal/peer",
          webId: "peer-web",
        },
      ],
    };
    socket.emit("notification", JSON.stringify(payload));
  }
  // Act once every notification has been handed to the websocket (it keeps order).
  const conn = socket.conn;
  const whenFlushed = (fn) => {
    if (conn.writeBuffer.length === 0) {
      fn();
    } else {
      conn.once("drain", () => whenFlushed(fn));
    }
  };
  whenFlushed(() => {
    switch (then) {
      case "disconnect":
        socket.disconnect(true);
        break;
      case "close":
        // End the raw websocket with a close frame: no Engine.IO "1", no socket.io "41".
        conn.transport.socket.close(1000);
        break;
      case "reset":
        conn.transport.socket._socket.resetAndDestroy();
        break;
      case "stall":
        // Stop the heartbeat (no more pings, and no timeout on our side); the TCP
        // connection stays open.
        clearTimeout(conn.pingIntervalTimer);
        clearTimeout(conn.pingTimeoutTimer);
        conn.pingIntervalTimer = null;
        conn.pingTimeoutTimer = null;
        conn.schedulePing = () => {};
        conn.resetPingTimeout = () => {};
        break;
      default:
        break;
    }
  });
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${httpServer.address().port}\n`);
});

// Stop with the test that started us.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
