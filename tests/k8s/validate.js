#!/usr/bin/env node
// Checks Kubernetes manifests the way the API server would before storing
// them: every document must be a known apiVersion/kind, match its OpenAPI
// schema (types, required fields, enums, formats) and carry no field the
// schema does not define (kubectl's strict field validation). Then weft's
// own rules for its manifests: the embedded JSON configs parse, the conflist
// is weft + portmap, the DaemonSet keeps the privileges it was given.
//
//   node validate.js [--schema-only] [--print-weftd-options] FILE...
//
// Exit 0 when every document passes; 1 with one line per problem otherwise.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

// "apps/v1" -> kubernetes-models/apps/v1, "v1" -> kubernetes-models/v1.
function modelFor(apiVersion, kind) {
	if (typeof apiVersion !== "string" || typeof kind !== "string")
		return null;
	if (!/^[a-z0-9.]*\/?v[0-9a-z]+$/.test(apiVersion))
		return null;
	let mod;
	try {
		mod = require(`kubernetes-models/${apiVersion}`);
	} catch {
		return null;
	}
	const model = mod[kind];
	return typeof model === "function" && model.kind === kind ? model : null;
}

// The generated validators read every property their schema defines and
// enumerate the keys of free-form maps (labels, data). Watching those reads
// through proxies finds the fields no schema mentions: on an object whose
// properties the validator looked at, a key it never read is unknown.
function locateUnknown(doc, validate) {
	const where = new Map();
	const seen = [];
	const proxied = watchWithPath(doc, "", seen);
	validate(proxied);
	for (const { rec, p } of seen) {
		if (rec.enumerated || rec.read.size === 0)
			continue;
		for (const k of rec.keys)
			if (!rec.read.has(k))
				where.set(`${p}/${k}`, k);
	}
	return [...where.keys()];
}

function watchWithPath(value, p, seen) {
	if (value === null || typeof value !== "object")
		return value;
	const isArray = Array.isArray(value);
	const rec = { read: new Set(), enumerated: false, keys: isArray ? [] : Object.keys(value) };
	const target = isArray ? [] : {};
	for (const k of Object.keys(value))
		target[k] = watchWithPath(value[k], `${p}/${k}`, seen);
	const proxy = new Proxy(target, {
		get(t, key, recv) {
			if (typeof key === "string")
				rec.read.add(key);
			return Reflect.get(t, key, recv);
		},
		ownKeys(t) {
			rec.enumerated = true;
			return Reflect.ownKeys(t);
		},
	});
	if (!isArray)
		seen.push({ rec, p });
	return proxy;
}

function checkSchema(doc, where) {
	const model = modelFor(doc.apiVersion, doc.kind);
	if (!model) {
		fail(where, `unknown apiVersion/kind ${doc.apiVersion}/${doc.kind}`);
		return false;
	}
	// validate() checks `this` as it is; the constructor would copy it.
	const run = (data) => model.prototype.validate.call(data);
	let ok = true;
	try {
		run(doc);
	} catch (e) {
		const errs = Array.isArray(e.errors) ? e.errors : [];
		if (errs.length === 0)
			fail(where, e.message);
		for (const er of errs)
			fail(where, `${er.instancePath || "/"} ${er.message}`);
		ok = false;
	}
	const validateFn = (data) => {
		try {
			run(data);
		} catch {
			/* errors were reported above */
		}
	};
	for (const p of locateUnknown(doc, validateFn)) {
		fail(where, `${p} is not a field of ${doc.kind}`);
		ok = false;
	}
	return ok;
}

function parseJSON(text, where, what) {
	if (typeof text !== "string") {
		fail(where, `${what} is missing`);
		return null;
	}
	try {
		return JSON.parse(text);
	} catch (e) {
		fail(where, `${what} is not valid JSON: ${e.message}`);
		return null;
	}
}

const WEFT_CAPS = new Set(["NET_ADMIN", "NET_RAW"]);

function checkConfigMap(doc, where) {
	const data = doc.data || {};
	const net = parseJSON(data["net-conf.json"], where, "net-conf.json");
	if (net) {
		if (typeof net.Network !== "string" ||
		    !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(net.Network))
			fail(where, "net-conf.json: Network must be an IPv4 CIDR string");
		const type = net.Backend && net.Backend.Type;
		if (typeof type !== "string" || type.toLowerCase() !== "vxlan")
			fail(where, 'net-conf.json: Backend.Type must be "vxlan"');
	}
	const cni = parseJSON(data["cni-conf.json"], where, "cni-conf.json");
	if (cni) {
		for (const k of ["cniVersion", "name"])
			if (typeof cni[k] !== "string" || cni[k] === "")
				fail(where, `cni-conf.json: ${k} must be a non-empty string`);
		const plugins = Array.isArray(cni.plugins) ? cni.plugins : [];
		const types = plugins.map((p) => p && p.type);
		if (types[0] !== "weft" || types[1] !== "portmap" || types.length !== 2)
			fail(where, `cni-conf.json: plugins must be [weft, portmap], got [${types}]`);
		const pm = plugins[1];
		if (pm && !(pm.capabilities && pm.capabilities.portMappings === true))
			fail(where, "cni-conf.json: portmap needs capabilities.portMappings true");
	}
}

function containersOf(spec) {
	return [...(spec.initContainers || []), ...(spec.containers || [])];
}

// kubeadm's etcd runs without authentication: any certificate of its PKI
// opens every Secret of the cluster. No object of weft's may point there.
const KUBEADM_PKI = "/etc/kubernetes/pki";

function checkNoKubeadmPKI(value, where, p = "") {
	if (typeof value === "string") {
		if (value.includes(KUBEADM_PKI))
			fail(where, `${p || "/"} references kubeadm's PKI (${KUBEADM_PKI}): ` +
			     "weft's nodes use weft's own etcd credential");
	} else if (value && typeof value === "object") {
		for (const [k, v] of Object.entries(value))
			checkNoKubeadmPKI(v, where, `${p}/${k}`);
	}
}

function checkContainerLimits(pod, where, allowedCaps) {
	for (const c of containersOf(pod)) {
		const sc = c.securityContext || {};
		const cw = `${where} container ${c.name}`;
		if (sc.privileged === true)
			fail(cw, "must not be privileged");
		const caps = sc.capabilities || {};
		const drop = caps.drop || [];
		if (!drop.includes("ALL"))
			fail(cw, "must drop ALL capabilities");
		for (const cap of caps.add || [])
			if (!allowedCaps.has(cap))
				fail(cw, `capability ${cap} is more than weft needs`);
		if (!c.resources || !c.resources.requests)
			fail(cw, "has no resource requests");
	}
}

// weft's own etcd: no capabilities at all, clients and peers need a
// certificate of its CA.
function checkEtcdDaemonSet(doc, where) {
	const pod = (((doc.spec || {}).template || {}).spec) || {};
	if (pod.hostNetwork !== true)
		fail(where, "hostNetwork must be true");
	if (pod.automountServiceAccountToken !== false)
		fail(where, "automountServiceAccountToken must be false");
	checkContainerLimits(pod, where, new Set());
	const etcd = (pod.containers || []).find((c) => c.name === "etcd");
	if (!etcd) {
		fail(where, "no container named etcd");
		return;
	}
	const args = [...(etcd.command || []), ...(etcd.args || [])];
	for (const a of ["--client-cert-auth=true", "--peer-client-cert-auth=true"])
		if (!args.includes(a))
			fail(`${where} container etcd`, `${a} is missing`);
}

function checkDaemonSet(doc, where, opts) {
	const pod = (((doc.spec || {}).template || {}).spec) || {};
	if (pod.hostNetwork !== true)
		fail(where, "hostNetwork must be true");
	// weftd never talks to the Kubernetes API: no token in the pod.
	if (pod.automountServiceAccountToken !== false)
		fail(where, "automountServiceAccountToken must be false");
	if (pod.priorityClassName !== "system-node-critical")
		fail(where, "priorityClassName must be system-node-critical");
	const paths = new Set((pod.volumes || [])
		.filter((v) => v.hostPath).map((v) => v.hostPath.path));
	for (const p of ["/run/weft", "/opt/cni/bin", "/etc/cni/net.d"])
		if (!paths.has(p))
			fail(where, `hostPath volume ${p} is missing`);
	checkContainerLimits(pod, where, WEFT_CAPS);
	const weftd = (pod.containers || []).find((c) => c.name === "weftd");
	if (!weftd) {
		fail(where, "no container named weftd");
		return;
	}
	const added = new Set(((weftd.securityContext || {}).capabilities || {}).add || []);
	for (const cap of WEFT_CAPS)
		if (!added.has(cap))
			fail(`${where} container weftd`, `capability ${cap} is missing`);
	checkCniDirs(pod, weftd, where);
	const probe = (p) => (p && p.httpGet ? p.httpGet.path : undefined);
	if (probe(weftd.livenessProbe) !== "/healthz")
		fail(`${where} container weftd`, "livenessProbe must GET /healthz");
	if (probe(weftd.readinessProbe) !== "/readyz")
		fail(`${where} container weftd`, "readinessProbe must GET /readyz");
	// A user of its own, scoped to weft's prefix, not a bare certificate.
	const envNames = new Set((weftd.env || []).map((e) => e.name));
	for (const e of ["WEFTD_ETCD_USERNAME", "WEFTD_ETCD_PASSWORD_FILE"])
		if (!envNames.has(e))
			fail(`${where} container weftd`, `${e} is missing: weftd must log in as etcd user weft`);
	if (opts.printOptions) {
		const flags = new Set();
		for (const a of [...(weftd.command || []), ...(weftd.args || [])]) {
			const m = /^(--[a-z0-9-]+)/.exec(a);
			if (m)
				flags.add(m[1]);
		}
		for (const e of weftd.env || []) {
			if (e.name.startsWith("WEFTD_"))
				flags.add("--" + e.name.slice(6).toLowerCase().replace(/_/g, "-"));
		}
		for (const f of [...flags].sort())
			console.log(f);
	}
}

// A runtime reports the network ready once a conflist exists: only weftd,
// once its node has a lease, may put files into the host's CNI directories
// (WEFTD_CNI_CONF_DIR and WEFTD_CNI_BIN_DIR at those volumes' mount paths).
function checkCniDirs(pod, weftd, where) {
	const env = {};
	for (const e of weftd.env || [])
		env[e.name] = e.value;
	const vols = {};
	for (const v of pod.volumes || [])
		if (v.hostPath)
			vols[v.name] = v.hostPath.path;
	for (const [host, name] of [["/etc/cni/net.d", "WEFTD_CNI_CONF_DIR"],
		["/opt/cni/bin", "WEFTD_CNI_BIN_DIR"]]) {
		for (const c of pod.initContainers || [])
			for (const m of c.volumeMounts || [])
				if (vols[m.name] === host)
					fail(`${where} container ${c.name}`, `writes ${host} before weftd is ready`);
		const m = (weftd.volumeMounts || []).find((vm) => vols[vm.name] === host);
		if (!m)
			fail(`${where} container weftd`, `does not mount ${host}`);
		else if (env[name] !== m.mountPath)
			fail(`${where} container weftd`, `${name} must be ${m.mountPath} (where ${host} is mounted)`);
	}
}

function main(argv) {
	const opts = { schemaOnly: false, printOptions: false };
	const files = [];
	for (const a of argv) {
		if (a === "--schema-only")
			opts.schemaOnly = true;
		else if (a === "--print-weftd-options")
			opts.printOptions = true;
		else
			files.push(a);
	}
	if (files.length === 0) {
		console.error("usage: validate.js [--schema-only] [--print-weftd-options] FILE...");
		return 2;
	}
	let count = 0;
	for (const file of files) {
		let docs;
		try {
			// Kubernetes reads YAML 1.1 (0400 is octal there).
			docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"), {
				version: "1.1",
			});
		} catch (e) {
			fail(file, e.message);
			continue;
		}
		docs.forEach((d, i) => {
			const where = `${path.basename(file)}#${i + 1}`;
			if (d.errors.length) {
				for (const e of d.errors)
					fail(where, `YAML: ${e.message}`);
				return;
			}
			const doc = d.toJS();
			if (doc === null)
				return;
			if (typeof doc !== "object" || Array.isArray(doc)) {
				fail(where, "a document must be a mapping");
				return;
			}
			count++;
			const label = `${where} ${doc.kind}/${(doc.metadata || {}).name}`;
			if (!checkSchema(doc, label) || opts.schemaOnly)
				return;
			if (doc.kind === "ConfigMap" && (doc.metadata || {}).name === "weft-config")
				checkConfigMap(doc, label);
			checkNoKubeadmPKI(doc, label);
			if (doc.kind === "DaemonSet" && (doc.metadata || {}).name === "weft-etcd")
				checkEtcdDaemonSet(doc, label);
			else if (doc.kind === "DaemonSet")
				checkDaemonSet(doc, label, opts);
		});
	}
	if (count === 0)
		fail(files.join(" "), "no Kubernetes objects found");
	for (const p of problems)
		console.error(p);
	if (!opts.printOptions)
		console.error(`${count} objects checked, ${problems.length} problems`);
	return problems.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
