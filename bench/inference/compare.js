#!/usr/bin/env node
/*
 * Runs verge, ONNX Runtime (onnxruntime-node, CPU, 1 thread) and TFLite's
 * WebAssembly build (@tensorflow/tfjs-tflite, XNNPACK, 1 thread) on the same
 * networks, interleaved: every round runs each runtime once per model, in an
 * order that rotates from round to round, so that noise from other work on
 * the machine falls on all of them alike. Each runtime's result for a model
 * is the median over rounds of its per-round median latency.
 *
 * Prints a Markdown report (ratios of median latencies, verge's 2-thread
 * speed-up, and the fraction of the measured FMA peak that verge reaches on
 * the largest convolutions) and writes every measurement as JSON.
 *
 * usage: node compare.js --verge BIN --models DIR --onnx DIR --node-modules DIR
 *                        --fma-peak JSON [--rounds R] [--runs N] [--warmup W]
 *                        [--json OUT] [--only NAME,...]
 * run.sh prepares all of that; see there.
 */
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/*
 * The networks. `onnx` names the same network in ONNX form (checked by the
 * project's golden data to compute the same function); `shape` is the input
 * shape to feed where the file's is not the one used; `tflite: false` marks
 * models that TFLite's WebAssembly build cannot run (reason given).
 */
const MODELS = [
    {file: 'face_detection_short_range.tflite', onnx: 'face_detection_front_128x128_barracuda.onnx'},
    {file: 'face_detection_full_range.tflite'},
    {file: 'face_detection_full_range_sparse.tflite'},
    {file: 'hand_landmark_lite.tflite'},
    {file: 'hand_landmark_full.tflite'},
    {file: 'selfie_segmentation.tflite', tflite: false,
     why: 'custom operator Convolution2DTransposeBias'},
    {file: 'melspectrogram.tflite', onnx: 'melspectrogram.onnx', shape: [1, 1280], tflite: false,
     why: 'declares input [1,1]; the runner cannot resize it to [1,1280]'},
    {file: 'embedding_model.tflite', onnx: 'embedding_model.onnx'},
    {file: 'alexa_v0.1.tflite', onnx: 'alexa_v0.1.onnx'},
    {file: 'hey_jarvis_v0.1.tflite', onnx: 'hey_jarvis_v0.1.onnx'},
    {file: 'hey_mycroft_v0.1.tflite', onnx: 'hey_mycroft_v0.1.onnx'},
    {file: 'hey_rhasspy_v0.1.tflite'}, /* its .onnx is a different model */
    {file: 'timer_v0.1.tflite', onnx: 'timer_v0.1.onnx'},
    {file: 'weather_v0.1.tflite', onnx: 'weather_v0.1.onnx'},
];

function parseArgs(argv) {
    const args = {rounds: 5, runs: 30, warmup: 5, json: null, only: null};
    for (let i = 2; i < argv.length; i++) {
        const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        const value = argv[++i];
        if (value === undefined) throw new Error(`option ${argv[i - 1]} needs a value`);
        args[key] = ['rounds', 'runs', 'warmup'].includes(key) ? Number(value) : value;
    }
    for (const needed of ['verge', 'models', 'onnx', 'nodeModules', 'fmaPeak'])
        if (!args[needed]) throw new Error(`--${needed.replace(/[A-Z]/g, c => '-' + c.toLowerCase())} is required`);
    return args;
}

/* Uniform floats in [-1, 1), the same generator as the project's golden inputs (mulberry32). */
function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function fillRandom(array, seed) {
    const next = mulberry32(seed);
    for (let i = 0; i < array.length; i++) array[i] = -1 + 2 * next();
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const n = sorted.length;
    return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function nowMs() {
    return Number(process.hrtime.bigint()) / 1e6;
}

/* Times `runs` calls of fn after `warmup` untimed ones; returns the median in ms. */
async function timeCalls(fn, runs, warmup) {
    for (let i = 0; i < warmup; i++) await fn();
    const times = [];
    for (let i = 0; i < runs; i++) {
        const start = nowMs();
        await fn();
        times.push(nowMs() - start);
    }
    return median(times);
}

async function loadTflite(nodeModules) {
    const wasmDir = path.join(nodeModules, '@tensorflow/tfjs-tflite/wasm');
    const factory = require(path.join(wasmDir, 'tflite_web_api_cc_simd.js'));
    const module = await factory({
        wasmBinary: fs.readFileSync(path.join(wasmDir, 'tflite_web_api_cc_simd.wasm')),
        locateFile: file => path.join(wasmDir, file),
        print: () => {},
        printErr: () => {},
    });
    return {
        module,
        create(file) {
            const bytes = fs.readFileSync(file);
            const at = module._malloc(bytes.length);
            module.HEAPU8.set(bytes, at);
            const result = module.TFLiteWebModelRunner.CreateFromBufferAndOptions(
                at, bytes.length, {numThreads: 1, enableProfiling: false, maxProfilingBufferEntries: 1024});
            if (!result.ok()) throw new Error(`TFLite: ${file}: ${result.errorMessage()}`);
            const runner = result.value();
            const inputs = runner.GetInputs();
            for (let i = 0; i < inputs.size(); i++) {
                const data = inputs.get(i).data();
                if (data instanceof Float32Array) fillRandom(data, i + 1);
            }
            return () => {
                if (!runner.Infer()) throw new Error(`TFLite: ${file}: inference failed`);
            };
        },
    };
}

async function createOrt(ort, file, shape) {
    const session = await ort.InferenceSession.create(file, {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
        executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
    });
    const feeds = {};
    session.inputNames.forEach((name, i) => {
        const meta = (session.inputMetadata || []).find(m => m.name === name);
        const dims = shape || (meta && meta.shape ? meta.shape.map(d => (typeof d === 'number' && d > 0 ? d : 1)) : null);
        if (!dims) throw new Error(`ORT: ${file}: no shape for input '${name}'`);
        const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
        fillRandom(data, i + 1);
        feeds[name] = new ort.Tensor('float32', data, dims);
    });
    return async () => { await session.run(feeds); };
}

function vergeArgs(model, extra) {
    const args = ['bench', model.path, '--json', ...extra];
    if (model.shape) args.push('--input-shape', `0=${model.shape.join(',')}`);
    return args;
}

function runVerge(args, model, threads) {
    const out = execFileSync(args.verge, vergeArgs(model, [
        '--threads', String(threads), '--runs', String(args.runs), '--warmup', String(args.warmup)]),
        {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
    return JSON.parse(out).latency_ms.median;
}

function format(value, digits = 3) {
    return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

async function main() {
    const args = parseArgs(process.argv);
    const ort = require(path.join(args.nodeModules, 'onnxruntime-node'));
    const tflite = await loadTflite(args.nodeModules);
    const peak = JSON.parse(fs.readFileSync(args.fmaPeak, 'utf8'));
    const only = args.only ? args.only.split(',') : null;
    const models = MODELS.filter(m => !only || only.some(name => m.file.startsWith(name)));
    const results = [];

    for (const model of models) {
        model.path = path.join(args.models, model.file);
        const entry = {model: model.file, onnx: model.onnx || null, runners: {}, rounds: {}};
        entry.runners['verge'] = () => runVerge(args, model, 1);
        entry.runners['verge 2 threads'] = () => runVerge(args, model, 2);
        if (model.onnx) {
            const run = await createOrt(ort, path.join(args.onnx, model.onnx), model.shape);
            entry.runners['ORT'] = () => timeCalls(run, args.runs, args.warmup);
        }
        if (model.tflite !== false) {
            const run = tflite.create(model.path);
            entry.runners['TFLite'] = () => timeCalls(run, args.runs, args.warmup);
        } else {
            entry.tfliteMissing = model.why;
        }
        results.push(entry);
    }

    for (let round = 0; round < args.rounds; round++) {
        for (const entry of results) {
            const names = Object.keys(entry.runners);
            for (let k = 0; k < names.length; k++) {
                const name = names[(k + round) % names.length];
                (entry.rounds[name] = entry.rounds[name] || []).push(await entry.runners[name]());
            }
        }
        process.stderr.write(`round ${round + 1} of ${args.rounds} done\n`);
    }

    /* The largest convolutions of the vision models, from one profiled run each. */
    const convs = [];
    let kernels = null;
    for (const model of models.filter(m => /face|hand|selfie/.test(m.file))) {
        const out = execFileSync(args.verge, vergeArgs(model, ['--profile', '--runs', String(args.runs),
                                                               '--warmup', String(args.warmup)]),
                                 {encoding: 'utf8'});
        kernels = JSON.parse(out).kernels;
        for (const node of JSON.parse(out).profile.slowest)
            if (node.op === 'CONV_2D') convs.push({model: model.file, ...node});
    }
    convs.sort((a, b) => b.flops - a.flops);

    const lines = [];
    lines.push('| model | verge ms | ORT ms | TFLite-wasm ms | verge/ORT | verge/TFLite | verge 2 threads ms | speed-up |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const entry of results) {
        const m = {};
        for (const [name, values] of Object.entries(entry.rounds)) m[name] = median(values);
        entry.median_ms = m;
        const v = m['verge'];
        lines.push(`| ${entry.model}${entry.onnx ? ` (ONNX: ${entry.onnx})` : ''} | ${format(v)} | ` +
                   `${format(m['ORT'])} | ${m['TFLite'] !== undefined ? format(m['TFLite']) : 'n/a¹'} | ` +
                   `${m['ORT'] ? format(v / m['ORT'], 2) : 'n/a'} | ` +
                   `${m['TFLite'] ? format(v / m['TFLite'], 2) : 'n/a'} | ` +
                   `${format(m['verge 2 threads'])} | ${format(v / m['verge 2 threads'], 2)} |`);
    }
    const missing = results.filter(e => e.tfliteMissing);
    if (missing.length)
        lines.push('', '¹ TFLite-wasm cannot run ' +
                   missing.map(e => `${e.model} (${e.tfliteMissing})`).join('; ') + '.');
    /* The peak that counts is the one of the instruction set verge's convolutions ran on. */
    const used = kernels === 'avx512' ? peak.avx512_gflops : kernels === 'avx2' ? peak.avx2_gflops : null;
    lines.push('', `FMA peak of one core, measured by fma_peak.c: AVX2 ${format(peak.avx2_gflops, 1)} GFLOP/s, ` +
               `AVX-512 ${peak.avx512_gflops ? format(peak.avx512_gflops, 1) : 'n/a'} GFLOP/s. ` +
               `verge's kernels: ${kernels}.`, '');
    lines.push(`| largest convolutions (verge, 1 thread) | output | MFLOP | ms | GFLOP/s | of the ${kernels} peak |`);
    lines.push('|---|---|---:|---:|---:|---:|');
    for (const c of convs.slice(0, 5))
        lines.push(`| ${c.model} node ${c.node} | ${c.output_shape} | ${format(c.flops / 1e6, 1)} | ` +
                   `${format(c.ms)} | ${format(c.gflops, 1)} | ${used ? format(100 * c.gflops / used, 0) + '%' : 'n/a'} |`);
    console.log(lines.join('\n'));

    if (args.json) {
        fs.writeFileSync(args.json, JSON.stringify({
            machine: {cpu: os.cpus()[0].model, cores: os.cpus().length, node: process.version},
            settings: {rounds: args.rounds, runs: args.runs, warmup: args.warmup},
            fma_peak: peak,
            verge_kernels: kernels,
            results: results.map(e => ({model: e.model, onnx: e.onnx, rounds_ms: e.rounds, median_ms: e.median_ms})),
            largest_convolutions: convs.slice(0, 5),
        }, null, 1) + '\n');
    }
}

main().catch(error => {
    console.error(`compare.js: ${error.message}`);
    process.exit(1);
});
