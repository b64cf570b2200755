// The reference for `graphwatch --changes`: what the docs suggest a user does with a
// notification — ask delta what changed. A baseline deltaLink ("token=latest") first,
// then, for each notification, one delta round (following nextLinks) and one
// console.log(JSON.stringify(item)) per changed item. Rounds run one after another so
// the cursor is never used twice; nothing is coalesced.
//
//   node changes.js GRAPH_URL ACCESS_TOKEN
"use strict";

const { io } = require("socket.io-client");

const [graph, token] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${token}` };

async function get(url) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`${url.split("?")[0]}: ${response.status}`);
  return response.json();
}

async function main() {
  let deltaLink = (await get(`${graph}/me/drive/root/delta?token=latest`))["@odata.deltaLink"];
  const { notificationUrl } = await get(`${graph}/me/drive/root/subscriptions/socketIo`);

  async function round() {
    let page = await get(deltaLink);
    for (;;) {
      for (const item of page.value) console.log(JSON.stringify(item));
      if (page["@odata.nextLink"]) page = await get(page["@odata.nextLink"]);
      else break;
    }
    deltaLink = page["@odata.deltaLink"];
  }

  let queue = Promise.resolve();
  const [endpoint, query] = notificationUrl.split("?");
  const socket = io(endpoint, { query, transports: ["websocket"] });
  socket.on("connect", () => console.error("connected"));
  socket.on("notification", () => {
    queue = queue.then(round).catch((err) => console.error(err.message));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
