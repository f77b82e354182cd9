#!/usr/bin/env node
/*
 * Writes extra reference sets into tests/data/golden/, in the layout of the
 * pinned sets there: SET/MODEL/input_0.npy and output_0.npy (float32, C
 * order, little-endian) plus inputs.json and outputs.json.
 *
 * The input is uniform in [-1,1) from mulberry32 with the set's seed, the
 * recipe of the pinned "rand1" set. The output comes from the same reference
 * runtime as the pinned sets (TFLite's WebAssembly build from
 * @tensorflow/tfjs-tflite, XNNPACK, 1 thread). Where the model has an ONNX
 * twin, ONNX Runtime runs it too, and the script fails unless both runtimes
 * agree under the pass rule of the golden data.
 *
 * The sets it writes, and why they exist:
 *   rand17, rand39 of hey_jarvis_v0.1.tflite: the model ends in an IF whose
 *   then branch runs a second network. The pinned inputs take the else
 *   branch; these seeds take the then branch with outputs far from 0 and 1.
 *   rand93, rand156 of hey_mycroft_v0.1.tflite: its output on the pinned
 *   inputs is exactly 1, which any saturated result would match; these
 *   seeds give 0.36 and 0.19.
 *
 * usage: node scripts/golden-extra.js --node-modules DIR --models DIR
 *                                     --onnx DIR --out tests/data/golden
 * bench/inference/run.sh installs the runtimes into .cache/bench-node and
 * the ONNX twins into .cache/bench-models.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const SETS = [
    {set: 'rand17', seed: 17, model: 'hey_jarvis_v0.1.tflite', onnx: 'hey_jarvis_v0.1.onnx'},
    {set: 'rand39', seed: 39, model: 'hey_jarvis_v0.1.tflite', onnx: 'hey_jarvis_v0.1.onnx'},
    {set: 'rand93', seed: 93, model: 'hey_mycroft_v0.1.tflite', onnx: 'hey_mycroft_v0.1.onnx'},
    {set: 'rand156', seed: 156, model: 'hey_mycroft_v0.1.tflite', onnx: 'hey_mycroft_v0.1.onnx'},
];

function parseArgs(argv) {
    const args = {};
    for (let i = 2; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
        args[key] = argv[i + 1];
    }
    for (const key of ['nodeModules', 'models', 'onnx', 'out'])
        if (!args[key]) throw new Error(`missing --${key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())}`);
    return args;
}

function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function fillUniform(data, seed) {
    const next = mulberry32(seed);
    for (let i = 0; i < data.length; i++) data[i] = -1 + 2 * next();
}

/* NPY 1.0, '<f4', C order, header padded so the data starts at a multiple of 64 bytes. */
function npyBytes(data, shape) {
    const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
    const total = Math.ceil((10 + header.length + 1) / 64) * 64;
    header = header.padEnd(total - 10 - 1, ' ') + '\n';
    const prefix = Buffer.alloc(10);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(prefix);
    prefix.writeUInt16LE(header.length, 8);
    const body = Buffer.alloc(data.length * 4);
    for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], i * 4);
    return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}

async function loadTflite(nodeModules) {
    const wasmDir = path.join(nodeModules, '@tensorflow/tfjs-tflite/wasm');
    const factory = require(path.join(wasmDir, 'tflite_web_api_cc_simd.js'));
    return factory({
        wasmBinary: fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc_simd.wasm')),
        locateFile: file => path.join(wasmDir, file),
        print: () => {},
        printErr: () => {},
    });
}

function runTflite(module, file, seed) {
    const bytes = fs.readFileSync(file);
    const at = module._malloc(bytes.length);
    module.HEAPU8.set(bytes, at);
    const result = module.TFLiteWebModelRunner.CreateFromBufferAndOptions(
        at, bytes.length, {numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024});
    if (!result.ok()) throw new Error(`TFLite: ${file}: ${result.errorMessage()}`);
    const runner = result.value();
    const inputs = runner.GetInputs();
    if (inputs.size() !== 1) throw new Error(`${file}: expected one input`);
    const input = inputs.get(0);
    fillUniform(input.data(), seed);
    const inputCopy = Float32Array.from(input.data());
    if (!runner.Infer()) throw new Error(`TFLite: ${file}: inference failed`);
    const output = runner.GetOutputs().get(0);
    return {
        input: {name: input.name, shape: input.shape.split(',').map(Number), data: inputCopy},
        output: {name: output.name, shape: output.shape.split(',').map(Number),
                 data: Float32Array.from(output.data())},
    };
}

async function runOrt(ort, file, input) {
    const session = await ort.InferenceSession.create(file, {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
        executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
    });
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape)};
    const results = await session.run(feeds);
    return results[session.outputNames[0]].data;
}

function tensorJson(t, file, recipe) {
    const entry = {name: t.name, shape: t.shape, dtype: 'float32', npy_descr: '<f4', file};
    if (recipe) entry.recipe = recipe;
    return {0: entry};
}

async function main() {
    const args = parseArgs(process.argv);
    const ort = require(path.join(args.nodeModules, 'onnxruntime-node'));
    const tflite = await loadTflite(args.nodeModules);

    for (const s of SETS) {
        const got = runTflite(tflite, path.join(args.models, s.model), s.seed);
        const twin = await runOrt(ort, path.join(args.onnx, s.onnx), got.input);
        let maxDiff = 0, maxRef = 0;
        got.output.data.forEach((r, i) => {
            maxDiff = Math.max(maxDiff, Math.abs(twin[i] - r));
            maxRef = Math.max(maxRef, Math.abs(r));
        });
        if (!(maxDiff <= 1e-6 + 1e-4 * maxRef))
            throw new Error(`${s.model} seed ${s.seed}: TFLite and ONNX Runtime differ by ${maxDiff}`);

        const dir = path.join(args.out, s.set, s.model);
        fs.mkdirSync(dir, {recursive: true});
        const recipe = `uniform [-1,1): x = float32(-1 + 2*u), u from mulberry32(seed=${s.seed}), ` +
                       'elements in C order';
        fs.writeFileSync(path.join(dir, 'input_0.npy'), npyBytes(got.input.data, got.input.shape));
        fs.writeFileSync(path.join(dir, 'output_0.npy'), npyBytes(got.output.data, got.output.shape));
        fs.writeFileSync(path.join(dir, 'inputs.json'),
                         JSON.stringify(tensorJson(got.input, 'input_0.npy', recipe), null, 1) + '\n');
        const outputs = tensorJson(got.output, 'output_0.npy');
        outputs[0].runtime = 'TFLite WebAssembly (@tensorflow/tfjs-tflite 0.0.1-alpha.10, SIMD, 1 thread)';
        outputs[0].onnx_runtime_max_abs_diff = maxDiff;
        fs.writeFileSync(path.join(dir, 'outputs.json'), JSON.stringify(outputs, null, 1) + '\n');
        console.log(`${s.set}/${s.model}: output ${Array.from(got.output.data).join(', ')}, ` +
                    `ONNX Runtime differs by ${maxDiff.toExponential(2)}`);
    }
}

main().catch(err => {
    console.error(`golden-extra: ${err.message}`);
    process.exit(1);
});
