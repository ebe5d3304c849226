#!/usr/bin/env node
// Writes deliberately broken copies of a manifest, so tests can check that
// the validator rejects them:
//   node mutate.js IN OUT KIND PATH set JSON   set PATH to a JSON value
//   node mutate.js IN OUT KIND PATH delete     remove PATH
//   node mutate.js --batch SPECFILE OUTDIR     many copies in one run
// PATH is "/"-separated (spec/template/spec/containers/0/name) inside the
// first document of that kind.
"use strict";

const fs = require("fs");
const YAML = require("yaml");

function mutate(docs, kind, p, op, value) {
	const doc = docs.find((d) => d.get("kind") === kind);
	if (!doc)
		return `no ${kind}`;
	const keys = p.split("/").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
	if (keys.length > 1 && !doc.hasIn(keys.slice(0, -1)))
		return `${p} has no parent in ${kind}`;
	if (op === "set" && value !== undefined)
		doc.setIn(keys, doc.createNode(JSON.parse(value)));
	else if (op === "delete" && doc.hasIn(keys))
		doc.deleteIn(keys);
	else
		return `cannot ${op} ${p}`;
	return null;
}

const parse = (file) =>
	YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" });
const write = (file, docs) => fs.writeFileSync(file, docs.map((d) => d.toString()).join(""));

const args = process.argv.slice(2);
if (args[0] === "--batch") {
	// --batch SPECFILE OUTDIR: one line per copy, tab-separated:
	// NAME  INPUT  KIND  PATH  set|delete  [JSON]   -> OUTDIR/NAME.yml
	const [spec, outdir] = args.slice(1);
	let bad = 0;
	for (const line of fs.readFileSync(spec, "utf8").split("\n")) {
		if (!line.trim())
			continue;
		const [name, input, kind, p, op, value] = line.split("\t");
		const docs = parse(input);
		const err = mutate(docs, kind, p, op, value);
		if (err) {
			console.error(`mutate.js: ${name}: ${err}`);
			bad++;
			continue;
		}
		write(`${outdir}/${name}.yml`, docs);
	}
	process.exit(bad ? 2 : 0);
}
const [input, output, kind, p, op, value] = args;
if (!op) {
	console.error("usage: mutate.js IN OUT KIND PATH set JSON | delete\n" +
		"       mutate.js --batch SPECFILE OUTDIR");
	process.exit(2);
}
const docs = parse(input);
const err = mutate(docs, kind, p, op, value);
if (err) {
	console.error(`mutate.js: ${err}`);
	process.exit(2);
}
write(output, docs);
