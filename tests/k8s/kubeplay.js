#!/usr/bin/env node
// Turns a manifest's DaemonSet into the Pod one node runs, for
// `podman kube play` (podman 4.3), doing only what podman cannot:
//   - kind DaemonSet: podman plays Pods and Deployments; the pod template
//     becomes a Pod named NAME;
//   - env from fieldRef status.hostIP / status.podIP (podman rejects the
//     field path): the node's IP, the pod IP of a hostNetwork pod;
//   - $(VAR) in command and args (podman passes it on unexpanded);
//   - secret volumes (podman writes the Secret's values still base64-encoded
//     and ignores defaultMode): a hostPath to DIR, where the test wrote each
//     key decoded, as the kubelet's secret volume holds it;
//   - ports of a hostNetwork pod (podman refuses port mappings without its
//     own network; the containerPort is the node's port anyway): dropped,
//     named probe ports replaced by their numbers;
//   - init containers need the pod annotation
//     io.podman.annotations.init.container.type: always (podman 4.3 fails
//     removing a finished init container otherwise).
// Everything else (ConfigMap volumes, secretKeyRef env from a podman secret,
// hostPath, securityContext, resources, hostNetwork) is left to podman.
//
//   node kubeplay.js pod MANIFEST --node-ip IP --name NAME [--image IMAGE]
//        [--secret-dir SECRET=DIR]...              prints the Pod as YAML
//   node kubeplay.js configmap MANIFEST NAME         prints ConfigMap NAME
//   node kubeplay.js configmap-dir MANIFEST NAME DIR writes each key as DIR/KEY
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

function die(msg) {
	console.error(`kubeplay.js: ${msg}`);
	process.exit(2);
}

function load(file) {
	return YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), { version: "1.1" })
		.map((d) => d.toJS())
		.filter(Boolean);
}

function configMap(file, name) {
	const cm = load(file).find((d) => d.kind === "ConfigMap" && d.metadata.name === name);
	if (!cm)
		die(`no ConfigMap ${name} in ${file}`);
	return cm;
}

function parsePodArgs(argv) {
	const o = { secretDir: {} };
	const pos = [];
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === "--node-ip" || a === "--name" || a === "--image") {
			if (i + 1 >= argv.length)
				die(`${a} wants a value`);
			o[a.slice(2).replace("-ip", "IP")] = argv[++i];
		} else if (a === "--secret-dir") {
			const v = argv[++i] || "";
			const eq = v.indexOf("=");
			if (eq <= 0)
				die("--secret-dir wants SECRET=DIR");
			o.secretDir[v.slice(0, eq)] = v.slice(eq + 1);
		} else
			pos.push(a);
	}
	if (pos.length !== 1 || !o.nodeIP || !o.name)
		die("usage: kubeplay.js pod MANIFEST --node-ip IP --name NAME [--image IMAGE] [--secret-dir S=DIR]...");
	o.manifest = pos[0];
	return o;
}

function resolveContainer(c, o) {
	const known = {};
	for (const e of c.env || []) {
		const ref = e.valueFrom && e.valueFrom.fieldRef;
		if (ref) {
			if (ref.fieldPath !== "status.hostIP" && ref.fieldPath !== "status.podIP")
				continue; // podman's own (metadata.*) or its error
			delete e.valueFrom;
			e.value = o.nodeIP;
		}
		if ("value" in e)
			known[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
				(m, n) => (n in known ? known[n] : m));
		if ("value" in e)
			e.value = known[e.name];
	}
	const expand = (s) => String(s).replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n) => {
		if (m === "$$")
			return "$";
		if (!(n in known))
			die(`container ${c.name}: $(${n}) comes from a source this test cannot expand`);
		return known[n];
	});
	for (const k of ["command", "args"])
		if (c[k])
			c[k] = c[k].map(expand);
	if (o.image)
		c.image = o.image;
}

// On a hostNetwork pod a containerPort is the node's port already; podman
// refuses port mappings there. Probes naming a port get its number.
function hostNetworkPorts(c) {
	const byName = {};
	for (const p of c.ports || [])
		if (p.name)
			byName[p.name] = p.containerPort;
	for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
		const h = probe && (probe.httpGet || probe.tcpSocket);
		if (h && typeof h.port === "string") {
			if (!(h.port in byName))
				die(`container ${c.name}: probe port ${h.port} is not a named port`);
			h.port = byName[h.port];
		}
	}
	delete c.ports;
}

function pod(argv) {
	const o = parsePodArgs(argv);
	const ds = load(o.manifest).find((d) => d.kind === "DaemonSet");
	if (!ds)
		die(`no DaemonSet in ${o.manifest}`);
	const tmpl = ds.spec.template;
	const spec = tmpl.spec;
	const meta = {
		name: o.name,
		labels: (tmpl.metadata || {}).labels || {},
		annotations: { ...((tmpl.metadata || {}).annotations || {}) },
	};
	if ((spec.initContainers || []).length > 0)
		meta.annotations["io.podman.annotations.init.container.type"] = "always";
	for (const c of [...(spec.initContainers || []), ...(spec.containers || [])]) {
		resolveContainer(c, o);
		if (spec.hostNetwork)
			hostNetworkPorts(c);
	}
	for (const v of spec.volumes || []) {
		if (!v.secret)
			continue;
		const dir = o.secretDir[v.secret.secretName];
		if (!dir)
			die(`secret volume ${v.name} (${v.secret.secretName}) has no --secret-dir`);
		if (!fs.existsSync(dir))
			die(`--secret-dir ${dir} does not exist`);
		delete v.secret;
		v.hostPath = { path: path.resolve(dir), type: "Directory" };
	}
	process.stdout.write(YAML.stringify({ apiVersion: "v1", kind: "Pod", metadata: meta, spec }));
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "pod")
	pod(rest);
else if (cmd === "configmap" && rest.length === 2)
	process.stdout.write(YAML.stringify(configMap(rest[0], rest[1])));
else if (cmd === "configmap-dir" && rest.length === 3) {
	fs.mkdirSync(rest[2], { recursive: true });
	for (const [k, v] of Object.entries(configMap(rest[0], rest[1]).data || {}))
		fs.writeFileSync(path.join(rest[2], k), v);
} else
	die("usage: kubeplay.js pod|configmap|configmap-dir ...");
