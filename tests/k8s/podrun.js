#!/usr/bin/env node
// Does for one container of a manifest's DaemonSet what the kubelet does
// before it starts it, so a test can run the container's command on a test
// node without Kubernetes: resolves env (value, fieldRef status.hostIP,
// secretKeyRef, configMapKeyRef), expands $(VAR) in command and args, and
// maps every path the container would see to where the test keeps it:
// volume mounts (hostPath, configMap, secret) and files of the image.
//
//   node podrun.js MANIFEST CONTAINER --node-ip IP
//        [--host-path HOSTPATH=DIR]... [--config-map NAME=DIR]...
//        [--secret NAME=DIR]... [--image-file PATH=FILE]...
//
// Prints JSON: {"argv": [...], "env": {...}}. Paths are rewritten by
// prefix, longest first, in argv and env values (shell scripts included).
//
//   node podrun.js --write-config-map MANIFEST NAME DIR
// writes each data key of ConfigMap NAME as DIR/KEY, as its volume would.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

function die(msg) {
	console.error(`podrun.js: ${msg}`);
	process.exit(2);
}

function parseArgs(argv) {
	const o = { hostPath: {}, configMap: {}, secret: {}, imageFile: {} };
	const pos = [];
	const pair = (v, flag) => {
		const i = v ? v.indexOf("=") : -1;
		if (i <= 0)
			die(`${flag} wants NAME=VALUE`);
		return [v.slice(0, i), v.slice(i + 1)];
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const table = {
			"--host-path": "hostPath",
			"--config-map": "configMap",
			"--secret": "secret",
			"--image-file": "imageFile",
		}[a];
		if (a === "--node-ip")
			o.nodeIP = argv[++i];
		else if (table) {
			const [k, v] = pair(argv[++i], a);
			o[table][k] = v;
		} else
			pos.push(a);
	}
	if (pos.length !== 2 || !o.nodeIP)
		die("usage: podrun.js MANIFEST CONTAINER --node-ip IP [mappings]");
	[o.manifest, o.container] = pos;
	return o;
}

function load(file) {
	return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" })
		.map((d) => d.toJS())
		.filter(Boolean);
}

if (process.argv[2] === "--write-config-map") {
	const [file, name, dir] = process.argv.slice(3);
	if (!dir)
		die("usage: podrun.js --write-config-map MANIFEST NAME DIR");
	const cm = load(file).find((d) => d.kind === "ConfigMap" && d.metadata.name === name);
	if (!cm)
		die(`no ConfigMap ${name} in ${file}`);
	fs.mkdirSync(dir, { recursive: true });
	for (const [k, v] of Object.entries(cm.data || {}))
		fs.writeFileSync(path.join(dir, k), v);
	process.exit(0);
}

const o = parseArgs(process.argv.slice(2));
const docs = load(o.manifest);
const ds = docs.find((d) => d.kind === "DaemonSet");
if (!ds)
	die(`no DaemonSet in ${o.manifest}`);
const pod = ds.spec.template.spec;
const c = [...(pod.initContainers || []), ...(pod.containers || [])]
	.find((x) => x.name === o.container);
if (!c)
	die(`no container ${o.container}`);

// A source for every volume the container mounts.
const sources = {};
for (const v of pod.volumes || []) {
	let dir;
	if (v.hostPath)
		dir = o.hostPath[v.hostPath.path];
	else if (v.configMap)
		dir = o.configMap[v.configMap.name];
	else if (v.secret)
		dir = o.secret[v.secret.secretName];
	sources[v.name] = dir;
}
const remap = [];
for (const m of c.volumeMounts || []) {
	const dir = sources[m.name];
	if (!dir)
		die(`volume ${m.name} (mounted at ${m.mountPath}) has no mapping`);
	remap.push([m.mountPath.replace(/\/$/, ""), dir]);
}
for (const [p, f] of Object.entries(o.imageFile))
	remap.push([p, f]);
remap.sort((a, b) => b[0].length - a[0].length);

// Rewrites every occurrence of a mapped path that ends at a path boundary.
function mapPaths(s) {
	for (const [from, to] of remap) {
		const re = new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "(?=/|\\s|$|[\"':=,])", "g");
		s = s.replace(re, to);
	}
	return s;
}

function keyFile(dir, key, what) {
	const f = path.join(dir, key);
	if (!fs.existsSync(f))
		die(`${what}: key ${key} missing (${f})`);
	return fs.readFileSync(f, "utf8");
}

const env = {};
for (const e of c.env || []) {
	let val;
	if ("value" in e)
		val = String(e.value);
	else if (e.valueFrom && e.valueFrom.fieldRef) {
		const fp = e.valueFrom.fieldRef.fieldPath;
		if (fp !== "status.hostIP" && fp !== "status.podIP")
			die(`fieldRef ${fp} is not emulated`);
		val = o.nodeIP; // hostNetwork: the pod IP is the node IP
	} else if (e.valueFrom && e.valueFrom.secretKeyRef) {
		const r = e.valueFrom.secretKeyRef;
		if (!o.secret[r.name])
			die(`secret ${r.name} has no mapping`);
		val = keyFile(o.secret[r.name], r.key, `secret ${r.name}`);
	} else if (e.valueFrom && e.valueFrom.configMapKeyRef) {
		const r = e.valueFrom.configMapKeyRef;
		if (!o.configMap[r.name])
			die(`configMap ${r.name} has no mapping`);
		val = keyFile(o.configMap[r.name], r.key, `configMap ${r.name}`);
	} else
		die(`env ${e.name}: unsupported source`);
	// $(VAR) of variables defined earlier, as the kubelet expands them.
	val = val.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => (n in env ? env[n] : m));
	env[e.name] = mapPaths(val);
}

const expand = (s) =>
	s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) =>
		m === "$$" ? "$" : (n in env ? env[n] : m));
const argv = [...(c.command || []), ...(c.args || [])].map((a) => mapPaths(expand(String(a))));
if (argv.length === 0)
	die(`container ${o.container} has no command (the image entrypoint is not emulated)`);
process.stdout.write(JSON.stringify({ argv, env }) + "\n");
