/**
 * A corpus of bad and hostile inputs for the ingestion pipelines, generated
 * into a folder by code (no binary file is committed). Each entry names the
 * verdict code `checkFile` must give, or `null` for inputs that look wrong but
 * must be accepted (a wrong extension on valid content, 7 channels).
 *
 * Expected codes hold for the default limits (16 MiB, 4096 x 4096 pixels,
 * 60 s, 10 s) and any limits of the same order: the oversized cases exceed
 * them by far (a 5 GiB sparse file, 20000 x 20000 and 2^31 x 2^31 pixel
 * headers, a 10-hour WAV header), and every valid image holds a digit so that
 * the `mnist` policy accepts it too. Label cases carry the inbox root to check
 * them with. Used by the pipeline tests and by the CLI test of `bonsai check`.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { AudioErrorCode } from '../../../pipelines/audio/codes.ts';
import { CheckErrorCode } from '../../../pipelines/check.ts';
import { ImageErrorCode } from '../../../pipelines/image/codes.ts';
import { LabelErrorCode } from '../../../pipelines/labels/index.ts';
import { FormatErrorCode } from '../../../pipelines/sniff.ts';
import { syntheticDigit } from './images.ts';
import { float32Samples, sinePcm16, wavBytes } from './wav.ts';

/** One hostile input and the verdict it must get. */
export interface CorpusEntry {
  /** Short id of the case, e.g. `png-truncated`. */
  name: string;
  /** Path to check (may be empty, or outside the corpus folder such as /dev/null). */
  path: string;
  /** Expected verdict code, or null when the input must be accepted. */
  expectCode: string | null;
  /** Inbox root to check with (label cases only). */
  inboxRoot?: string;
}

/** A PNG chunk: length, type, data, CRC-32 of type and data (ISO/IEC 15948 §5.3). */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A PNG from raw IHDR fields and an optional IDAT payload (already zlib-compressed). */
export function handPng(width: number, height: number, bitDepth: number, colourType: number, idat?: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width >>> 0, 0);
  ihdr.writeUInt32BE(height >>> 0, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  const chunks = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr)];
  if (idat !== undefined) chunks.push(pngChunk('IDAT', idat));
  chunks.push(pngChunk('IEND', new Uint8Array(0)));
  return Buffer.concat(chunks);
}

/** A decompression bomb: a 1-bit gray PNG of `side` x `side` zeros, a few tens of kilobytes on disk. */
export function pngBomb(side: number): Buffer {
  const rowBytes = 1 + Math.ceil(side / 8);
  return handPng(side, side, 1, 0, deflateSync(Buffer.alloc(rowBytes * side), { level: 9 }));
}

/** A little-endian TIFF whose IFD declares `width` x `height` 8-bit gray pixels in one strip that is not there. */
export function handTiff(width: number, height: number): Buffer {
  const tags: [number, 3 | 4, number][] = [[256, 4, width], [257, 4, height], [258, 3, 8], [259, 3, 1], [262, 3, 1], [273, 4, -1], [277, 3, 1], [278, 4, height], [279, 4, 4_000_000_000]];
  const ifdBytes = 2 + tags.length * 12 + 4;
  const b = Buffer.alloc(8 + ifdBytes + 16);
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(8, 4);
  b.writeUInt16LE(tags.length, 8);
  tags.forEach(([tag, type, value], i) => {
    const o = 10 + i * 12;
    b.writeUInt16LE(tag, o);
    b.writeUInt16LE(type, o + 2);
    b.writeUInt32LE(1, o + 4);
    const v = value === -1 ? 8 + ifdBytes : value;
    if (type === 3) b.writeUInt16LE(v, o + 8);
    else b.writeUInt32LE(v >>> 0, o + 8);
  });
  return b;
}

/** A GIF header declaring a `width` x `height` logical screen, and nothing after it. */
function gifHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

/** Creates a sparse file of `bytes` (no blocks are written). */
async function sparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(bytes);
  } finally {
    await handle.close();
  }
}

/**
 * Writes the hostile corpus into `dir` (which must exist and be empty) and
 * returns each case with the code `checkFile` must give.
 */
export async function writeHostileCorpus(dir: string): Promise<CorpusEntry[]> {
  const entries: CorpusEntry[] = [];
  const put = async (name: string, file: string, bytes: Uint8Array | string, expectCode: string | null, inboxRoot?: string): Promise<string> => {
    const path = join(dir, file);
    await writeFile(path, bytes);
    entries.push({ name, path, expectCode, ...(inboxRoot === undefined ? {} : { inboxRoot }) });
    return path;
  };
  const digitPng = await syntheticDigit(60, 48);
  const digitJpeg = await sharp(digitPng).jpeg({ quality: 90 }).toBuffer();
  const digitWebp = await sharp(digitPng).webp({ quality: 80 }).toBuffer();

  // Files, names and file-system objects.
  await put('zero-byte', 'zero-byte.png', new Uint8Array(0), CheckErrorCode.EMPTY);
  const gigantic = join(dir, 'gigantic.png');
  await sparseFile(gigantic, 5 * 1024 ** 3);
  entries.push({ name: 'gigantic-file-over-limit', path: gigantic, expectCode: CheckErrorCode.TOO_LARGE });
  const target = await put('valid-png', 'valid.png', digitPng, null);
  await symlink(target, join(dir, 'symlink.png'));
  entries.push({ name: 'symlink', path: join(dir, 'symlink.png'), expectCode: CheckErrorCode.SYMLINK });
  await symlink(join(dir, 'does-not-exist.png'), join(dir, 'dangling.png'));
  entries.push({ name: 'dangling-symlink', path: join(dir, 'dangling.png'), expectCode: CheckErrorCode.SYMLINK });
  await mkdir(join(dir, 'directory.png'));
  entries.push({ name: 'directory', path: join(dir, 'directory.png'), expectCode: CheckErrorCode.NOT_REGULAR });
  if (spawnSync('mkfifo', [join(dir, 'fifo.png')]).status === 0) {
    entries.push({ name: 'fifo', path: join(dir, 'fifo.png'), expectCode: CheckErrorCode.NOT_REGULAR });
  }
  if (process.platform === 'linux') entries.push({ name: 'character-device', path: '/dev/null', expectCode: CheckErrorCode.NOT_REGULAR });
  entries.push({ name: 'missing-file', path: join(dir, 'missing.png'), expectCode: CheckErrorCode.NOT_FOUND });
  entries.push({ name: 'empty-file-name', path: '', expectCode: CheckErrorCode.NAME_INVALID });
  await put('newline-in-name', 'bad\nname.png', digitPng, CheckErrorCode.NAME_INVALID);
  // Readable by nobody, root included: reading /proc/self/mem at offset 0 fails with EIO.
  if (process.platform === 'linux') entries.push({ name: 'unreadable-io-error', path: '/proc/self/mem', expectCode: CheckErrorCode.UNREADABLE });
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    const path = await put('unreadable', 'unreadable.png', digitPng, CheckErrorCode.UNREADABLE);
    await chmod(path, 0o000);
  }

  // Not images at all, or formats bonsai does not take.
  await put('text-as-png', 'notes.png', 'just some text, not pixels\n', FormatErrorCode.UNKNOWN);
  await put('html-as-png', 'page.png', '<!DOCTYPE html><html><body>404 Not Found</body></html>', FormatErrorCode.UNKNOWN);
  await put('random-bytes', 'random.png', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 251)), FormatErrorCode.UNKNOWN);
  await put('svg', 'vector.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>', FormatErrorCode.UNSUPPORTED);
  await put('heic', 'photo.heic', Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'), Buffer.alloc(64)]), FormatErrorCode.UNSUPPORTED);
  const bmp = Buffer.alloc(64);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(64, 2);
  await put('bmp', 'old.bmp', bmp, FormatErrorCode.UNSUPPORTED);
  await put('pdf', 'scan.png', '%PDF-1.7\n1 0 obj << >> endobj\n', FormatErrorCode.UNSUPPORTED);
  await put('riff-too-short', 'short.wav', 'RIFF', FormatErrorCode.UNKNOWN);

  // Broken and oversized images.
  await put('png-truncated', 'truncated.png', digitPng.subarray(0, Math.floor(digitPng.length / 2)), ImageErrorCode.CORRUPT);
  const badCrc = Buffer.from(digitPng);
  const idat = badCrc.indexOf('IDAT');
  badCrc[idat + 4 + badCrc.readUInt32BE(idat - 4)] ^= 0xff;
  await put('png-bad-crc', 'bad-crc.png', badCrc, ImageErrorCode.CORRUPT);
  await put('png-zero-width', 'zero-width.png', handPng(0, 28, 8, 0, deflateSync(Buffer.alloc(29))), ImageErrorCode.CORRUPT);
  await put('png-bad-bit-depth', 'bad-depth.png', handPng(28, 28, 7, 0, deflateSync(Buffer.alloc(29 * 28))), ImageErrorCode.CORRUPT);
  await put('png-huge-dimensions-header', 'huge-header.png', handPng(0x7fffffff, 0x7fffffff, 8, 0), ImageErrorCode.TOO_MANY_PIXELS);
  await put('png-decompression-bomb', 'bomb.png', pngBomb(20000), ImageErrorCode.TOO_MANY_PIXELS);
  await put('tiff-huge-dimensions-header', 'huge-header.tiff', handTiff(100000, 100000), ImageErrorCode.TOO_MANY_PIXELS);
  await put('gif-huge-screen', 'huge-screen.gif', gifHeader(65535, 65535), ImageErrorCode.TOO_MANY_PIXELS);
  await put('jpeg-truncated', 'truncated.jpg', digitJpeg.subarray(0, Math.floor(digitJpeg.length * 0.6)), ImageErrorCode.CORRUPT);
  await put('webp-truncated', 'truncated.webp', digitWebp.subarray(0, Math.floor(digitWebp.length * 0.6)), ImageErrorCode.CORRUPT);
  await put('jpeg-named-png', 'really-a-jpeg.png', digitJpeg, null);
  // 8-bit gray PNGs take the fast decoder; broken ones must still be refused (by sharp).
  const grayDigit = await sharp(digitPng).flatten({ background: '#ffffff' }).toColourspace('b-w').png().toBuffer();
  await put('png-gray-valid', 'gray.png', grayDigit, null);
  const grayBadCrc = Buffer.from(grayDigit);
  const grayIdat = grayBadCrc.indexOf('IDAT');
  grayBadCrc[grayIdat + 4 + grayBadCrc.readUInt32BE(grayIdat - 4)] ^= 0xff;
  await put('png-gray-bad-crc', 'gray-bad-crc.png', grayBadCrc, ImageErrorCode.CORRUPT);
  await put('png-gray-truncated', 'gray-truncated.png', grayDigit.subarray(0, grayDigit.length - 30), ImageErrorCode.CORRUPT);

  // WAV files with hand-written headers.
  const tone = sinePcm16(0.5);
  await put('wav-valid-named-png', 'really-a-wav.png', wavBytes({ data: tone }), null);
  await put('wav-nan-samples', 'nan.wav', wavBytes({ formatTag: 3, bitsPerSample: 32, data: float32Samples([0.1, Number.NaN], 8000) }), AudioErrorCode.NON_FINITE);
  await put('wav-infinite-samples', 'inf.wav', wavBytes({ formatTag: 3, bitsPerSample: 32, data: float32Samples([Number.POSITIVE_INFINITY], 8000) }), AudioErrorCode.NON_FINITE);
  await put('wav-0-channels', 'zero-channels.wav', wavBytes({ channels: 0, blockAlign: 2, data: tone }), AudioErrorCode.CHANNELS);
  await put('wav-9-channels', 'nine-channels.wav', wavBytes({ channels: 9, data: sinePcm16(0.2, 16000, 440, 9) }), AudioErrorCode.CHANNELS);
  await put('wav-7-channels', 'seven-channels.wav', wavBytes({ channels: 7, data: sinePcm16(0.2, 16000, 440, 7) }), null);
  await put('wav-1-hz', 'one-hertz.wav', wavBytes({ sampleRate: 1, data: tone }), AudioErrorCode.SAMPLE_RATE);
  await put('wav-10-hour-header', 'ten-hours.wav', wavBytes({ data: tone, declaredDataBytes: 10 * 3600 * 16000 * 2 }), AudioErrorCode.TOO_LONG);
  await put('wav-compressed-mp3-tag', 'mp3-in-wav.wav', wavBytes({ formatTag: 0x55, data: tone }), AudioErrorCode.COMPRESSED);
  await put('wav-gsm-tag', 'gsm.wav', wavBytes({ formatTag: 0x31, bitsPerSample: 8, data: tone }), AudioErrorCode.COMPRESSED);
  await put('wav-mu-law-16-bit', 'mulaw16.wav', wavBytes({ formatTag: 7, data: tone }), AudioErrorCode.BIT_DEPTH);
  await put('wav-mu-law', 'mulaw.wav', wavBytes({ formatTag: 7, bitsPerSample: 8, data: tone }), null);
  await put('wav-truncated', 'truncated.wav', wavBytes({ data: tone }).subarray(0, 44 + 4000), AudioErrorCode.TRUNCATED);
  await put('riff-not-wave', 'movie.wav', wavBytes({ form: 'AVI ', data: tone }), AudioErrorCode.NOT_WAVE);
  await put('rifx-big-endian', 'rifx.wav', wavBytes({ riff: 'RIFX', data: tone }), AudioErrorCode.NOT_RIFF);
  await put('wav-no-data-chunk', 'no-data.wav', wavBytes({ omit: 'data' }), AudioErrorCode.NO_DATA);
  await put('wav-no-fmt-chunk', 'no-fmt.wav', wavBytes({ omit: 'fmt', data: tone }), AudioErrorCode.NO_FMT);
  await put('wav-empty-data', 'empty-data.wav', wavBytes({ data: new Uint8Array(0) }), AudioErrorCode.EMPTY);
  await put('wav-12-bit', 'twelve-bit.wav', wavBytes({ bitsPerSample: 12, data: tone }), AudioErrorCode.BIT_DEPTH);

  // Labels, under an inbox.
  const inbox = join(dir, 'inbox');
  const inInbox = async (name: string, parts: string[], bytes: Uint8Array | string, expectCode: string | null): Promise<string> => {
    await mkdir(join(inbox, ...parts.slice(0, -1)), { recursive: true });
    return put(name, join('inbox', ...parts), bytes, expectCode, inbox);
  };
  await inInbox('label-valid-folder', ['7', 'seven.png'], digitPng, null);
  await inInbox('label-missing-in-inbox-root', ['loose.png'], digitPng, LabelErrorCode.MISSING);
  await inInbox('label-over-long', ['x'.repeat(65), 'a.png'], digitPng, LabelErrorCode.INVALID);
  await inInbox('label-non-ascii', ['caf\u00e9', 'a.png'], digitPng, LabelErrorCode.INVALID);
  await inInbox('label-bidi-override', ['\u202egnp', 'a.png'], digitPng, LabelErrorCode.INVALID);
  await inInbox('label-fullwidth-digit', ['\uff17', 'a.png'], digitPng, LabelErrorCode.INVALID);
  await inInbox('label-space', ['two words', 'a.png'], digitPng, LabelErrorCode.INVALID);
  await inInbox('label-dots', ['...', 'a.png'], digitPng, LabelErrorCode.INVALID);
  const manifestCase = async (name: string, folder: string, manifest: string, expectCode: string | null): Promise<void> => {
    await inInbox(name, [folder, 'a.png'], digitPng, expectCode);
    await writeFile(join(inbox, folder, 'manifest.jsonl'), manifest);
  };
  await manifestCase('label-dot-dot-slash', 'batch-1', `${JSON.stringify({ file: 'a.png', label: '../x' })}\n`, LabelErrorCode.INVALID);
  await manifestCase('label-with-nul', 'batch-2', `${JSON.stringify({ file: 'a.png', label: 'a\u0000b' })}\n`, LabelErrorCode.INVALID);
  await manifestCase('label-empty', 'batch-3', `${JSON.stringify({ file: 'a.png', label: '' })}\n`, LabelErrorCode.INVALID);
  await manifestCase('label-not-a-string', 'batch-4', `${JSON.stringify({ file: 'a.png', label: 7 })}\n`, LabelErrorCode.INVALID);
  await manifestCase('manifest-not-json', 'batch-5', `${JSON.stringify({ file: 'a.png', label: '7' })}\n{"file": "b.png", "label": \n`, LabelErrorCode.MANIFEST_INVALID);
  await manifestCase('manifest-path-escape', 'batch-6', `${JSON.stringify({ file: 'a.png', label: '7' })}\n${JSON.stringify({ file: '../../etc/passwd', label: '7' })}\n`, LabelErrorCode.MANIFEST_INVALID);
  await manifestCase('manifest-contradiction', 'batch-7', `${JSON.stringify({ file: 'a.png', label: '7' })}\n${JSON.stringify({ file: './a.png', label: '1' })}\n`, LabelErrorCode.MANIFEST_INVALID);
  await manifestCase('manifest-valid', 'batch-8', `${JSON.stringify({ file: 'a.png', label: 'seven' })}\n`, null);
  const speech = async (name: string, folder: string, transcript: string | null, expectCode: string | null): Promise<void> => {
    const path = await inInbox(name, [folder, 'utterance.wav'], wavBytes({ data: tone }), expectCode);
    if (transcript !== null) await writeFile(`${path}.txt`, transcript);
  };
  await speech('transcript-valid', 'speech-1', 'Hello, World!\n', null);
  await speech('transcript-control-char', 'speech-2', 'hello\u0007world', LabelErrorCode.TRANSCRIPT_INVALID);
  await speech('transcript-zero-width', 'speech-3', 'hel\u200blo', LabelErrorCode.TRANSCRIPT_INVALID);
  await speech('transcript-empty', 'speech-4', ' \n', LabelErrorCode.TRANSCRIPT_INVALID);
  await speech('transcript-over-long', 'speech-5', 'ab '.repeat(400), LabelErrorCode.TRANSCRIPT_INVALID);
  await speech('transcript-digits', 'speech-6', 'call 911', LabelErrorCode.TRANSCRIPT_INVALID);
  await inInbox('transcript-symlink', ['speech-7', 'utterance.wav'], wavBytes({ data: tone }), LabelErrorCode.TRANSCRIPT_INVALID);
  await writeFile(join(inbox, 'speech-7', 'elsewhere.txt'), 'hello');
  await symlink(join(inbox, 'speech-7', 'elsewhere.txt'), join(inbox, 'speech-7', 'utterance.wav.txt'));
  return entries;
}
