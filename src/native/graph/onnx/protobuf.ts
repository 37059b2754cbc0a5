/**
 * Minimal protobuf wire-format writer: enough for ONNX ModelProto. Fields are written in the order the
 * caller writes them, so the same graph always gives the same bytes (and the same hash).
 */
export class PbWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private rawVarint(v: bigint): void {
    let x = BigInt.asUintN(64, v); // negative int64 -> two's complement, 10 bytes, as protobuf requires
    const bytes: number[] = [];
    while (x >= 0x80n) {
      bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    bytes.push(Number(x));
    this.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  varint(field: number, v: number | bigint): void {
    this.tag(field, 0);
    this.rawVarint(typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
  }

  float(field: number, f: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, f, true);
    this.push(b);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.rawVarint(BigInt(data.length));
    this.push(data);
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: PbWriter): void {
    this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
