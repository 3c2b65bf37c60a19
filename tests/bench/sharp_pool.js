// sharp_pool.js - thumbnail files with sharp (Node.js, libvips) in N
// processes of one libvips thread each, as a point of comparison for imgpool.
//
//   node sharp_pool.js [-j N] [-s WxH] [-q Q] OUTDIR FILE...
//
// The job is the bench's: fit inside the box (default 300x300, never
// enlarge), JPEG quality Q (default 90), 4:2:0 chroma, metadata stripped;
// with SHARP_MOZJPEG=1 in the environment, sharp's mozjpeg: true.
// sharp's defaults do the colour management: an input with an ICC profile
// is converted to sRGB and the profile is not written.  sharp is found in
// $SHARP_DIR (a directory whose node_modules holds sharp; default
// /tmp/imgpool-bench/node, where setup.sh --sharp installs it).
//
// The parent forks N children (child_process.fork) and hands out files a few
// at a time as each child asks for more, so the work balances like a pool.
// Every child sets sharp.concurrency(1) (libvips threads) and runs with
// UV_THREADPOOL_SIZE=1 and VIPS_CONCURRENCY=1, and does one file at a time.
// Each output is OUTDIR/STEM.jpg.  Exits 1 if any file failed, after naming
// it on stderr; 2 on a usage error or when sharp cannot be loaded.
'use strict';

const { fork } = require('child_process');
const { createRequire } = require('module');
const path = require('path');

const CHUNK = 4;

function usage() {
    process.stderr.write('usage: node sharp_pool.js [-j N] [-s WxH] [-q Q] OUTDIR FILE...\n');
    process.exit(2);
}

function loadSharp() {
    const dir = process.env.SHARP_DIR || '/tmp/imgpool-bench/node';
    try {
        return createRequire(path.join(dir, 'package.json'))('sharp');
    } catch (e) {
        process.stderr.write(`sharp_pool: cannot load sharp from ${dir}: ${e.message}\n`);
        process.exit(2);
    }
}

function parseArgs(argv) {
    const a = { jobs: 2, box: [300, 300], quality: 90, rest: [] };
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i];
        if (v === '-j') a.jobs = parseInt(argv[++i], 10);
        else if (v === '-s') a.box = (argv[++i] || '').split('x').map(Number);
        else if (v === '-q') a.quality = parseInt(argv[++i], 10);
        else a.rest.push(v);
    }
    if (!(a.jobs > 0) || a.box.length !== 2 || !(a.box[0] > 0) ||
        !(a.box[1] > 0) || !(a.quality > 0) || a.rest.length < 2)
        usage();
    return a;
}

// Child: ask for files, thumbnail them one at a time, report failures.
async function child(outdir, box, quality) {
    const sharp = loadSharp();
    sharp.concurrency(1);
    const errors = [];
    process.on('message', async (msg) => {
        if (msg.files.length === 0) {
            process.send({ errors }, () => process.exit(0));
            return;
        }
        for (const file of msg.files) {
            const stem = path.basename(file, path.extname(file));
            try {
                await sharp(file)
                    .resize(box[0], box[1], { fit: 'inside', withoutEnlargement: true })
                    .jpeg({ quality, chromaSubsampling: '4:2:0',
                            mozjpeg: process.env.SHARP_MOZJPEG === '1' })
                    .toFile(path.join(outdir, stem + '.jpg'));
            } catch (e) {
                errors.push(`${file}: ${e.message}`);
            }
        }
        process.send({ more: true });
    });
    process.send({ more: true });
}

function parent(a) {
    loadSharp(); // fail early, with the message, before forking
    const [outdir, ...files] = a.rest;
    const env = Object.assign({}, process.env,
        { UV_THREADPOOL_SIZE: '1', VIPS_CONCURRENCY: '1' });
    let next = 0;
    let failed = 0;
    let live = a.jobs;
    for (let j = 0; j < a.jobs; j++) {
        const c = fork(__filename,
            ['--child', outdir, String(a.box[0]), String(a.box[1]), String(a.quality)],
            { env });
        c.on('message', (msg) => {
            if (msg.more) {
                c.send({ files: files.slice(next, next + CHUNK) });
                next += CHUNK;
            } else if (msg.errors) {
                for (const e of msg.errors)
                    process.stderr.write(`sharp_pool: ${e}\n`);
                failed += msg.errors.length;
            }
        });
        c.on('exit', (code) => {
            if (code !== 0) failed++;
            if (--live === 0) process.exit(failed ? 1 : 0);
        });
    }
}

if (process.argv[2] === '--child') {
    const [outdir, w, h, q] = process.argv.slice(3);
    child(outdir, [Number(w), Number(h)], Number(q));
} else {
    parent(parseArgs(process.argv.slice(2)));
}
