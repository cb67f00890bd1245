// Make's own tool layer, for `scripts/bench.py --compare`: the credential tools of Make's
// TypeScript SDK (@makehq/sdk, `MakeTools` of the connections, keys and credential-requests
// categories) served over stdio by the TypeScript MCP SDK's `Server`, each call running the
// tool's own `execute(make, args)`. The bench installs both packages and points MAKE_API_URL
// at its canned Make double.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { Make } from "@makehq/sdk";
import { MakeTools } from "@makehq/sdk/tools";

const api = new URL(process.env.MAKE_API_URL);
const make = new Make(process.env.MAKE_API_KEY, api.host);
make.protocol = api.protocol.replace(":", "");
const categories = new Set(["connections", "keys", "credential-requests"]);
const tools = MakeTools.filter((tool) => categories.has(tool.category));

const server = new Server({ name: "make-sdk-tools", version: "1.6.10" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: tools.map(({ name, title, description, inputSchema, annotations }) => ({
    name, title, description, inputSchema, annotations,
  })),
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const tool = tools.find((t) => t.name === request.params.name);
  if (!tool) return { isError: true, content: [{ type: "text", text: `unknown tool ${request.params.name}` }] };
  try {
    const result = await tool.execute(make, request.params.arguments ?? {});
    return { content: [{ type: "text", text: JSON.stringify(result) }] };
  } catch (error) {
    return { isError: true, content: [{ type: "text", text: String(error?.message ?? error) }] };
  }
});
await server.connect(new StdioServerTransport());
