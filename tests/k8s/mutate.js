#!/usr/bin/env node
// Writes a deliberately broken copy of a manifest, so tests can check that
// the validator rejects it:
//   node mutate.js IN OUT KIND PATH set JSON   set PATH to a JSON value
//   node mutate.js IN OUT KIND PATH delete     remove PATH
// PATH is "/"-separated (spec/template/spec/containers/0/name) inside the
// first document of that kind.
"use strict";

const fs = require("fs");
const YAML = require("yaml");

const [input, output, kind, p, op, value] = process.argv.slice(2);
if (!op || (op === "set" && value === undefined)) {
	console.error("usage: mutate.js IN OUT KIND PATH set JSON | delete");
	process.exit(2);
}
const docs = YAML.parseAllDocuments(fs.readFileSync(input, "utf8"), { version: "1.1" });
const doc = docs.find((d) => d.get("kind") === kind);
if (!doc) {
	console.error(`mutate.js: no ${kind} in ${input}`);
	process.exit(2);
}
const keys = p.split("/").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
if (!doc.hasIn(keys.slice(0, -1))) {
	console.error(`mutate.js: ${p} has no parent in ${kind}`);
	process.exit(2);
}
if (op === "set")
	doc.setIn(keys, doc.createNode(JSON.parse(value)));
else if (op === "delete" && doc.hasIn(keys))
	doc.deleteIn(keys);
else {
	console.error(`mutate.js: cannot ${op} ${p}`);
	process.exit(2);
}
fs.writeFileSync(output, docs.map((d) => d.toString()).join(""));
