// kafkajs-snappy ships no types: a kafkajs compression codec factory (snappyjs, pure JavaScript).
declare module "kafkajs-snappy" {
  const SnappyCodec: () => {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
  };
  export default SnappyCodec;
}
