/** The image ingestion pipeline: bytes in, a float32 sample per ImageSpec out. */
export { processImage, processImageDetailed, MNIST_MAX_SIDE, type ProcessedImage } from './process.ts';
export { ImageErrorCode } from './codes.ts';
export { decodeRaw, sharpError, type DecodeArgs, type DecodeResize, type RawImage } from './decode.ts';
export { imageFormatSupport } from './formats.ts';
export { readImageDimensions, type ImageDimensions } from './header.ts';
export { mnistCentre, MIN_CONTRAST, type MnistResult } from './mnist.ts';
export { resampleRegion, axisTaps, type Region } from './resample.ts';
export { validateImageSpec, bytesToRange, unitToRange, MAX_OUTPUT_SIDE } from './spec.ts';
export { configureSharp, type SharpSettings } from './sharp-config.ts';
export { decodeSimplePng, neutralToGray, FAST_PNG_MAX_PIXELS } from './png-fast.ts';
