// simd.js: loads gemm.wasm, the simd128 GEMM kernel that Pretext's Go
// module calls (web/gemm.wat, internal/kernel/jshost), into that module's
// memory. An ES module, imported by the worker (worker.js) and by the Node
// test runner (wasm/exec_node.js).

// loadGemm instantiates the kernel with the memory of goInstance (the Go
// module, instantiated but not yet running: Go installs the kernel when it
// starts, internal/kernel/jshost) and publishes it as
// globalThis.pretextGemm. source is the module's bytes, or a fetch
// Response, or a Promise of either. It resolves to "" once the
// kernel is in place, or to the reason it is not (the engine lacks
// simd128, or the file is missing); Go then uses its own kernel, which
// gives the same bits, only slower. It never rejects.
export async function loadGemm(goInstance, source = fetch("gemm.wasm")) {
  try {
    let bytes = await source;
    if (bytes && typeof bytes.arrayBuffer === "function") {
      if (!bytes.ok) return `gemm.wasm: HTTP ${bytes.status}`;
      bytes = await bytes.arrayBuffer();
    }
    // validate is the feature test: without simd128 the module is invalid.
    if (!WebAssembly.validate(bytes)) return "gemm.wasm does not validate (no wasm simd128?)";
    const { instance } = await WebAssembly.instantiate(bytes, { env: { memory: goInstance.exports.mem } });
    const e = instance.exports;
    globalThis.pretextGemm = {
      block: e.block, mr: e.mr.value, nr: e.nr.value, packCopy: e.pack_copy, packTrans: e.pack_trans,
      bnNormalize: e.bn_normalize, bnGradX: e.bn_grad_x, bnGradSums: e.bn_grad_sums, bnSums: e.bn_sums,
    };
    return "";
  } catch (err) {
    return "gemm.wasm: " + (err && err.message ? err.message : err);
  }
}
