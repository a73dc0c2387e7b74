import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { extensionMismatch, extensionOf, formatError, modalityOf, sniff } from '../../pipelines/sniff.ts';
import { handPng, handTiff } from './corpus/hostile.ts';
import { wavBytes } from './corpus/wav.ts';

const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

test('sniffs every accepted format from its magic bytes', async () => {
  const img = sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } });
  assert.deepEqual(sniff(await img.clone().png().toBuffer()), { kind: 'image', modality: 'image', format: 'png' });
  assert.equal((sniff(await img.clone().jpeg().toBuffer()) as { format: string }).format, 'jpeg');
  assert.equal((sniff(await img.clone().webp().toBuffer()) as { format: string }).format, 'webp');
  assert.equal((sniff(await img.clone().gif().toBuffer()) as { format: string }).format, 'gif');
  assert.equal((sniff(await img.clone().tiff().toBuffer()) as { format: string }).format, 'tiff');
  assert.equal((sniff(bytes('MM', [0, 42], [0, 0, 0, 8])) as { format: string }).format, 'tiff');
  assert.equal((sniff(bytes('II', [43, 0], [8, 0, 0, 0])) as { format: string }).format, 'tiff', 'BigTIFF');
  assert.equal((sniff(bytes([0, 0, 0, 28], 'ftypavif', [0, 0, 0, 0], 'mif1miaf')) as { format: string }).format, 'avif');
  assert.equal((sniff(bytes([0, 0, 0, 28], 'ftypmif1', [0, 0, 0, 0], 'avifmiaf')) as { format: string }).format, 'avif', 'AVIF as a compatible brand');
  assert.deepEqual(sniff(wavBytes()), { kind: 'audio', modality: 'audio', format: 'wav' });
  assert.equal(modalityOf(sniff(wavBytes())), 'audio');
  assert.equal(sniff(handPng(1, 1, 8, 0)).kind, 'image');
  assert.equal(sniff(handTiff(1, 1)).kind, 'image');
});

test('RIFF containers other than WebP go to the audio pipeline, which explains them', () => {
  assert.equal(sniff(wavBytes({ form: 'AVI ' })).kind, 'audio');
  assert.equal(sniff(wavBytes({ riff: 'RIFX' })).kind, 'audio');
  assert.equal(sniff(bytes('RIFF')).kind, 'unknown', 'too short to be a RIFF file');
});

test('recognises formats bonsai refuses, and describes what it does not recognise', () => {
  const unsupported: [Buffer, string][] = [
    [bytes([0, 0, 0, 24], 'ftypheic', [0, 0, 0, 0], 'mif1heic'), 'heic'],
    [bytes([0, 0, 0, 24], 'ftypmp42', [0, 0, 0, 0], 'isommp42'), 'iso-media'],
    [bytes('%PDF-1.4\n'), 'pdf'], [bytes('8BPS', [0, 1]), 'psd'],
    [bytes('BM', [70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0]), 'bmp'],
    [bytes([0, 0, 1, 0, 1, 0, 16, 16]), 'ico'], [bytes([0, 0, 0, 12], 'jP  ', [13, 10, 135, 10]), 'jpeg2000'], [bytes([0xff, 0x0a, 0xfa]), 'jxl'],
    [bytes('fLaC', [0, 0, 0, 34]), 'flac'], [bytes('OggS', [0, 2]), 'ogg'], [bytes('ID3', [4, 0]), 'mp3'], [bytes([0xff, 0xfb, 0x90, 0x64]), 'mp3'],
    [bytes([0x1f, 0x8b, 8, 0]), 'gzip'], [bytes('PK', [3, 4]), 'zip'], [bytes([0x7f], 'ELF', [2, 1]), 'executable'],
    [bytes('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'), 'svg'], [bytes('  <svg width="1"/>'), 'svg'],
  ];
  for (const [b, format] of unsupported) assert.equal((sniff(b) as { format?: string }).format, format, format);
  const unknown: [Buffer, string][] = [
    [bytes('hello world\n'), 'text'], [bytes('\uFEFF<!DOCTYPE html><html>'), 'an HTML document'], [bytes('  <html><body>'), 'an HTML document'],
    [bytes('{"a": 1}'), 'JSON or other text'], [bytes('<?xml version="1.0"?><root/>'), 'an XML document'], [bytes([1, 2, 3, 0, 200]), 'unrecognised binary data'],
    [bytes('BMW is a car'), 'text'], [Buffer.alloc(0), 'text'],
  ];
  for (const [b, what] of unknown) assert.deepEqual(sniff(b), { kind: 'unknown', what }, what);
});

test('extension checks: the content decides, a disagreeing name is noted', () => {
  assert.equal(extensionOf('a/b/C.JPEG'), '.jpeg');
  assert.equal(extensionOf('a.b/noext'), '');
  assert.equal(extensionOf('.hidden'), '');
  assert.equal(extensionMismatch('x.jpg', 'jpeg'), undefined);
  assert.equal(extensionMismatch('x', 'png'), undefined);
  assert.equal(extensionMismatch('x.png', 'jpeg'), 'content is JPEG although the name ends in .png');
  assert.equal(extensionMismatch('x.PNG', 'wav'), 'content is WAV although the name ends in .png');
});

test('formatError gives the codes and says what the content is', () => {
  const unknown = formatError({ kind: 'unknown', what: 'an HTML document' }, 'any', 'x.png');
  assert.equal(unknown.code, 'BONSAI_INGEST_FORMAT_UNKNOWN');
  assert.equal(unknown.message, 'not an image or a WAV recording (x.png): the content is an HTML document although the name ends in .png');
  const refused = formatError({ kind: 'unsupported', format: 'bmp', reason: 'a BMP image' }, 'any');
  assert.equal(refused.code, 'BONSAI_INGEST_FORMAT_UNSUPPORTED');
  const wrongPipeline = formatError({ kind: 'audio', modality: 'audio', format: 'wav' }, 'image');
  assert.equal(wrongPipeline.code, 'BONSAI_INGEST_FORMAT_UNSUPPORTED');
  assert.match(wrongPipeline.message, /expected an image but the content is WAV/);
});
