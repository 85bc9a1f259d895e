// Lays out a build's stages (pipelines) as a graph by their `depends_on`.

export interface GraphNode {
  name: string;
  status: string;
  column: number;
  row: number;
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: { from: string; to: string }[];
  columns: number;
  rows: number;
}

/** Column = length of the longest dependency chain before the stage; rows in file order. */
export function layoutStages(stages: { name: string; status: string; dependsOn: string[] }[]): GraphLayout {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0; // a cycle is rejected by the linter; never loop here
    visiting.add(name);
    const stage = byName.get(name);
    const d = stage ? Math.max(0, ...stage.dependsOn.filter((n) => byName.has(n)).map((n) => depthOf(n) + 1)) : 0;
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  const rowsUsed = new Map<number, number>();
  const nodes = stages.map((s) => {
    const column = depthOf(s.name);
    const row = rowsUsed.get(column) ?? 0;
    rowsUsed.set(column, row + 1);
    return { name: s.name, status: s.status, column, row };
  });
  const edges = stages.flatMap((s) => s.dependsOn.filter((d) => byName.has(d)).map((d) => ({ from: d, to: s.name })));
  return {
    nodes,
    edges,
    columns: Math.max(0, ...nodes.map((n) => n.column + 1)),
    rows: Math.max(0, ...[...rowsUsed.values()]),
  };
}

const NODE_W = 170;
const NODE_H = 34;
const GAP_X = 60;
const GAP_Y = 16;

export function renderGraph(layout: GraphLayout, escapeHtml: (s: string) => string): string {
  const x = (c: number) => 10 + c * (NODE_W + GAP_X);
  const y = (r: number) => 10 + r * (NODE_H + GAP_Y);
  const pos = new Map(layout.nodes.map((n) => [n.name, n]));
  const width = 20 + layout.columns * (NODE_W + GAP_X) - GAP_X;
  const height = 20 + layout.rows * (NODE_H + GAP_Y) - GAP_Y;
  const edges = layout.edges
    .map((e) => {
      const a = pos.get(e.from);
      const b = pos.get(e.to);
      if (!a || !b) return '';
      const x1 = x(a.column) + NODE_W;
      const y1 = y(a.row) + NODE_H / 2;
      const x2 = x(b.column);
      const y2 = y(b.row) + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      return `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`;
    })
    .join('');
  const nodes = layout.nodes
    .map(
      (n) =>
        `<g class="node" data-stage="${escapeHtml(n.name)}" transform="translate(${x(n.column)},${y(n.row)})">` +
        `<rect width="${NODE_W}" height="${NODE_H}"/>` +
        `<circle class="dot ${escapeHtml(n.status)}" cx="16" cy="${NODE_H / 2}" r="5" fill="currentColor"/>` +
        `<text x="30" y="${NODE_H / 2 + 4}">${escapeHtml(n.name)}</text></g>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${Math.max(width, 200)} ${Math.max(height, 54)}" height="${Math.max(height, 54)}" role="img" aria-label="pipeline graph">${edges}${nodes}</svg>`;
}
