#!/usr/bin/env -S node --stack-size=8192
// Runs a GOOS=js GOARCH=wasm binary in Node.js, as Go's
// $(go env GOROOT)/lib/wasm/go_js_wasm_exec does (same stack size, same
// wasm_exec.js, which must match the compiler), and with PRETEXT_SIMD=1
// loads the simd128 GEMM kernel into it the way the page's worker does
// (web/simd.js): from $PRETEXT_GEMM_WASM, or web/gemm.wasm of this
// repository (./build.sh makes it). It is a go test -exec runner:
//
//	PRETEXT_SIMD=1 GOOS=js GOARCH=wasm go test -exec="$PWD/wasm/exec_node.js" ./internal/kernel/... ./core
//
// A test of each package then fails unless Gemm uses the kernel.
"use strict";

const childProcess = require("child_process");
const path = require("path");

if (process.argv.length < 3) {
  console.error("usage: exec_node.js [wasm binary] [arguments]");
  process.exit(1);
}

globalThis.require = require;
globalThis.fs = require("fs");
globalThis.path = path;
globalThis.TextEncoder = require("util").TextEncoder;
globalThis.TextDecoder = require("util").TextDecoder;
globalThis.performance ??= require("perf_hooks").performance;
globalThis.crypto ??= require("crypto");

// go test runs us with its toolchain's bin first on PATH.
const goroot = process.env.GOROOT || childProcess.execFileSync("go", ["env", "GOROOT"], { encoding: "utf8" }).trim();
require(path.join(goroot, "lib", "wasm", "wasm_exec.js"));

async function main() {
  const go = new Go();
  go.argv = process.argv.slice(2);
  go.env = Object.assign({ TMPDIR: require("os").tmpdir() }, process.env);
  go.exit = process.exit;
  const result = await WebAssembly.instantiate(fs.readFileSync(process.argv[2]), go.importObject);
  if (process.env.PRETEXT_SIMD === "1") {
    // simd.js is an ES module (the page's worker imports it); Node 20.19 and
    // later load its typeless .js by its syntax.
    const simd = require("url").pathToFileURL(path.join(__dirname, "..", "web", "simd.js"));
    const { loadGemm } = await import(simd.href);
    const file = process.env.PRETEXT_GEMM_WASM || path.join(__dirname, "..", "web", "gemm.wasm");
    const why = await loadGemm(result.instance, fs.promises.readFile(file));
    if (why) console.error("exec_node.js: PRETEXT_SIMD=1 but " + why);
  }
  process.on("exit", (code) => { // Node.js exits if no event handler is pending
    if (code === 0 && !go.exited) {
      // deadlock, make Go print error and stack traces
      go._pendingEvent = { id: 0 };
      go._resume();
    }
  });
  return go.run(result.instance);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
