// An independent socket.io peer for the emulator: the official socket.io client, used
// the way Microsoft's docs sample uses a notificationUrl. The docs split the URL at its
// query: what comes before is the socket.io endpoint (origin + namespace path), what
// comes after is an opaque query string handed to the library.
//
//   node peer.js --url NOTIFICATION_URL [--count N] [--transport websocket|polling] [--timeout MS]
//
// stdout: one JSON line per event: {"type":"connected"} once joined, then
// {"type":"notification","argType":"string","payload":{…}} per notification.
// stderr: diagnostics. Exit 0 after N notifications; 2 on a connect error;
// 3 on timeout; 4 if the server disconnected us first; 64 on bad usage.
"use strict";

const { io } = require("socket.io-client");

function parseArgs(argv) {
  const args = { count: 1, transport: "websocket", timeout: 20000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`missing value for ${key}`);
    switch (key) {
      case "--url":
        args.url = value;
        break;
      case "--count":
        args.count = Number.parseInt(value, 10);
        break;
      case "--transport":
        args.transport = value;
        break;
      case "--timeout":
        args.timeout = Number.parseInt(value, 10);
        break;
      default:
        usage(`unknown option ${key}`);
    }
  }
  if (!args.url) usage("--url is required");
  if (!Number.isInteger(args.count) || args.count < 0) usage("--count must be a number");
  if (!["websocket", "polling"].includes(args.transport)) usage("--transport must be websocket or polling");
  return args;
}

function usage(message) {
  process.stderr.write(`peer.js: ${message}\n`);
  process.exit(64);
}

function emit(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const args = parseArgs(process.argv.slice(2));

// As in the docs: endpoint before the query, the opaque query string after it.
const at = args.url.indexOf("?");
const endpoint = at < 0 ? args.url : args.url.slice(0, at);
const query = at < 0 ? "" : args.url.slice(at + 1);

const socket = io(endpoint, {
  query,
  transports: [args.transport],
  reconnection: false,
});

let received = 0;
let finished = false;

function finish(code, why) {
  if (finished) return;
  finished = true;
  if (why) process.stderr.write(`peer.js: ${why}\n`);
  socket.close();
  // Let stdout drain before leaving.
  process.stdout.write("", () => process.exit(code));
}

const timer = setTimeout(
  () => finish(3, `timed out after ${args.timeout} ms with ${received} of ${args.count} notifications`),
  args.timeout,
);
timer.unref();

socket.on("connect", () => {
  emit({ type: "connected" });
  if (args.count === 0) finish(0);
});

socket.on("connect_error", (err) => {
  finish(2, `connect_error: ${err && err.message ? err.message : err}`);
});

socket.on("disconnect", (reason) => {
  finish(4, `disconnected: ${reason}`);
});

socket.on("notification", (data) => {
  // The live service sends a JSON string that holds JSON; accept an object too.
  let payload = data;
  if (typeof data === "string") {
    try {
      payload = JSON.parse(data);
    } catch (e) {
      payload = { unparsable: data };
    }
  }
  received += 1;
  emit({ type: "notification", argType: typeof data, payload });
  if (received >= args.count) finish(0);
});
