import { createSocket, type Socket } from 'node:dgram';
import { parseTxt, type Route53Fake, type ServedZone, setKey } from './route53-fake.js';

/**
 * Route 53's authoritative name servers for the zones of a {@link Route53Fake}: real DNS over UDP
 * on loopback, answering from the fake's record sets, so the propagation check talks DNS to
 * something that serves exactly what Route 53 holds. A server can be frozen to keep serving the
 * zones as they were, the way one of Route 53's servers lags behind a change for a while.
 *
 * Answers as an authoritative server does: AA set; TXT, A, NS and CNAME from the most specific
 * public zone containing the name (a CNAME answers any other type); NOERROR with no answer for a
 * name that exists without that type; NXDOMAIN inside a zone; REFUSED outside every zone.
 */

const LOOPBACK = '127.0.0.1';
const TYPE_CODES: Readonly<Record<string, number>> = { A: 1, NS: 2, CNAME: 5, TXT: 16 };
const RCODE = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 } as const;

export interface Route53NameServers {
  /** `127.0.0.1:<port>` of each server, for `DNS_AUTHORITATIVE_SERVERS`. */
  readonly addresses: readonly string[];
  /** Queries answered per server, in `addresses` order. */
  readonly queries: readonly number[];
  /** Server `index` keeps answering from the zones as they are now until {@link thaw}. */
  freeze(index: number): void;
  thaw(index: number): void;
  /** Closes every socket; safe to call twice. */
  stop(): void;
}

/**
 * Starts `count` name servers (Route 53 gives every zone four) for the fake's public zones. The
 * sockets are bound before this returns, so their addresses can go straight into an environment.
 */
export function startRoute53NameServers(route53: Route53Fake, count = 4): Route53NameServers {
  const frozen = new Map<number, ServedZone[]>();
  const queries = new Array<number>(count).fill(0);
  const sockets: Socket[] = [];
  const addresses: string[] = [];
  for (let index = 0; index < count; index += 1) {
    // An address lookup that answers at once makes `bind` complete before it returns.
    const socket = createSocket({
      type: 'udp4',
      lookup: (address, _family, callback) => callback(null, address, 4),
    });
    socket.on('message', (message, remote) => {
      queries[index] = (queries[index] ?? 0) + 1;
      const response = answer(message, frozen.get(index) ?? route53.servedZones());
      if (response) socket.send(response, remote.port, remote.address);
    });
    socket.bind(0, LOOPBACK);
    sockets.push(socket);
    addresses.push(`${LOOPBACK}:${socket.address().port}`);
  }
  let stopped = false;
  return {
    addresses,
    queries,
    freeze: (index) => frozen.set(index, route53.servedZones()),
    thaw: (index) => frozen.delete(index),
    stop() {
      if (stopped) return;
      stopped = true;
      for (const socket of sockets) socket.close();
    },
  };
}

interface Question {
  readonly name: string;
  readonly type: number;
  /** Offset just past the question section. */
  readonly end: number;
}

/** The response to one query, or `undefined` for something that is not a query we can parse. */
function answer(query: Buffer, zones: readonly ServedZone[]): Buffer | undefined {
  if (query.length < 12 || (query.readUInt16BE(2) & 0x8000) !== 0 || query.readUInt16BE(4) !== 1)
    return undefined;
  const question = readQuestion(query);
  if (!question) return undefined;
  const { rcode, records } = lookup(question, zones);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  const opcodeAndRd = query.readUInt16BE(2) & 0x7900;
  header.writeUInt16BE(0x8000 | opcodeAndRd | 0x0400 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

function readQuestion(query: Buffer): Question | undefined {
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = query[offset];
    if (length === undefined || length > 63) return undefined;
    offset += 1;
    if (length === 0) break;
    labels.push(
      query
        .subarray(offset, offset + length)
        .toString('latin1')
        .toLowerCase(),
    );
    offset += length;
  }
  if (offset + 4 > query.length) return undefined;
  return { name: `${labels.join('.')}.`, type: query.readUInt16BE(offset), end: offset + 4 };
}

function lookup(question: Question, zones: readonly ServedZone[]): { rcode: number; records: Buffer[] } {
  const zone = zones
    .filter((candidate) => question.name === candidate.name || question.name.endsWith(`.${candidate.name}`))
    .reduce<ServedZone | undefined>(
      (best, candidate) => (best && best.name.length >= candidate.name.length ? best : candidate),
      undefined,
    );
  if (!zone) return { rcode: RCODE.REFUSED, records: [] };

  const typeName = Object.entries(TYPE_CODES).find(([, code]) => code === question.type)?.[0];
  const wanted = typeName ? zone.sets.get(setKey(question.name, typeName)) : undefined;
  const cname = zone.sets.get(setKey(question.name, 'CNAME'));
  const set = wanted ?? cname;
  if (set) {
    const code = TYPE_CODES[set.type] ?? 0;
    return {
      rcode: RCODE.NOERROR,
      records: set.values.map((value) => record(code, set.ttl, rdata(set.type, value))),
    };
  }
  const exists = [...zone.sets.values()].some(
    (candidate) => candidate.name === question.name || candidate.name.endsWith(`.${question.name}`),
  );
  return { rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN, records: [] };
}

/** One answer record, its owner a pointer to the question's name. */
function record(type: number, ttl: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0);
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4);
  fixed.writeUInt32BE(ttl, 6);
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}

function rdata(type: string, value: string): Buffer {
  switch (type) {
    case 'TXT':
      return Buffer.concat(
        (parseTxt(value).strings ?? []).map((bytes) => Buffer.concat([Buffer.from([bytes.length]), bytes])),
      );
    case 'A':
      return Buffer.from(value.split('.').map(Number));
    default:
      return encodeName(value);
  }
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')])),
    Buffer.from([0]),
  ]);
}
