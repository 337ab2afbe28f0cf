import { readFileSync } from 'node:fs';

/** A whole-line HTML comment: a block's name, or a divider (`## …`) that ends the block before it. */
const MARKER = /^<!-- (.+) -->$/;
const BLOCK_NAME = /^[a-z][a-z0-9-]*$/;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

let blocks: ReadonlyMap<string, string> | undefined;

/** The blocks of report-template.md by name, read once, beside this module wherever it runs from. */
function templateBlocks(): ReadonlyMap<string, string> {
  if (blocks) return blocks;
  const source = readFileSync(new URL('./report-template.md', import.meta.url), 'utf8');
  const parsed = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of source.split('\n')) {
    const marker = MARKER.exec(line)?.[1];
    if (marker === undefined) {
      current?.push(line);
    } else if (BLOCK_NAME.test(marker)) {
      if (parsed.has(marker)) throw new Error(`report-template.md: block ${marker} appears twice`);
      current = [];
      parsed.set(marker, current);
    } else {
      current = undefined;
    }
  }
  blocks = new Map(
    [...parsed].map(([name, lines]) => [name, lines.join('\n').replace(/^\n+|\n+$/g, '')] as const),
  );
  return blocks;
}

/**
 * The block `name` of report-template.md with each `{{placeholder}}` replaced by its value, as a
 * template literal would print it. Throws when the block does not exist, a placeholder has no value,
 * or a value has no placeholder, so a renamed placeholder cannot leave `{{…}}` in results.md.
 */
export function text(name: string, values: Readonly<Record<string, string | number>> = {}): string {
  const block = templateBlocks().get(name);
  if (block === undefined) throw new Error(`report-template.md has no block ${name}`);
  const used = new Set<string>();
  const filled = block.replace(PLACEHOLDER, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`report-template.md: no value for {{${key}}} in ${name}`);
    used.add(key);
    return String(value);
  });
  const unused = Object.keys(values).filter((key) => !used.has(key));
  if (unused.length > 0) throw new Error(`report-template.md: ${name} has no {{${unused.join('}}, {{')}}}`);
  return filled;
}
