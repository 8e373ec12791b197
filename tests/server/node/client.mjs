// Usage: node client.mjs BASE_URL  (e.g. http://127.0.0.1:PORT/v1)
// Lists models, completes a chat and streams the same chat with the official
// openai client, then prints one JSON line with what it saw.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "test-key", maxRetries: 0, timeout: 60000 });

const models = await client.models.list();
const ids = [];
for await (const m of models) ids.push(m.id);

const request = {
  model: ids[0],
  messages: [{ role: "user", content: "Once upon a time" }],
  max_tokens: 40,
  temperature: 0.8,
  seed: 11,
};
const completion = await client.chat.completions.create(request);

const stream = await client.chat.completions.create({ ...request, stream: true });
let streamed = "";
let chunks = 0;
let finish = null;
let usage = null;
let role = null;
for await (const chunk of stream) {
  chunks++;
  const choice = chunk.choices[0];
  if (choice?.delta?.role) role = choice.delta.role;
  if (choice?.delta?.content) streamed += choice.delta.content;
  if (choice?.finish_reason) finish = choice.finish_reason;
  if (chunk.usage) usage = chunk.usage;
}

console.log(JSON.stringify({
  models: ids,
  object: completion.object,
  content: completion.choices[0].message.content,
  finish_reason: completion.choices[0].finish_reason,
  usage: completion.usage,
  streamed,
  stream_chunks: chunks,
  stream_role: role,
  stream_finish_reason: finish,
  stream_usage: usage,
}));
