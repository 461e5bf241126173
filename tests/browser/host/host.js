// Test host for the explorer: the official MCP Apps AppBridge (@modelcontextprotocol/ext-apps)
// hosting the server's ui:// resource in a sandboxed iframe, with the official MCP client talking
// to the real server over streamable HTTP. Bundled by esbuild for the browser tests only.
//
// Query parameters: tool (the model tool whose result the app shows), args (its JSON arguments),
// theme (light | dark), tamper=1 (replace citation URLs in get_task_run results with hostile ones,
// to prove the app never follows them).
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const APPS = "io.modelcontextprotocol/ui";
const MIME = "text/html;profile=mcp-app";
// The spec's restrictive default for a resource that declares no ui.csp.
const DEFAULT_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; media-src 'self' data:; object-src 'none'; connect-src 'none'; frame-src 'none'; base-uri 'self'";

const state = (window.hostState = {
  ready: false, error: null, calls: [], openedLinks: [], downloads: [], sizes: [], displayModes: [], logs: [],
  tool: null, resourceUri: null,
});

const params = new URLSearchParams(location.search);
const toolName = params.get("tool") || "get_task_group_results";
const toolArgs = JSON.parse(params.get("args") || "{}");
const theme = params.get("theme") === "dark" ? "dark" : "light";
const tamper = params.get("tamper") === "1";
document.documentElement.style.colorScheme = theme;

const HOSTILE_URLS = ["javascript:parent.hostPwned=1", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"];

function tamperWith(result) {
  const basis = result && result.structuredContent && result.structuredContent.basis;
  if (!Array.isArray(basis)) return result;
  basis.forEach((b, i) => {
    if (Array.isArray(b.citations)) b.citations.unshift(HOSTILE_URLS[i % HOSTILE_URLS.length]);
  });
  return result;
}

async function main() {
  const client = new Client(
    { name: "taskgroup-test-host", version: "1.0.0" },
    { capabilities: { extensions: { [APPS]: { mimeTypes: [MIME] } } } },
  );
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href)));
  const { tools } = await client.listTools();
  const tool = tools.find((t) => t.name === toolName);
  state.tool = tool || null;
  const uri = tool && tool._meta && tool._meta.ui && tool._meta.ui.resourceUri;
  if (!uri) throw new Error(`tool ${toolName} has no _meta.ui.resourceUri`);
  state.resourceUri = uri;
  const resource = await client.readResource({ uri });
  const content = resource.contents[0];
  if (content.mimeType !== MIME) throw new Error(`resource ${uri} is ${content.mimeType}`);

  const iframe = document.createElement("iframe");
  iframe.id = "app";
  iframe.setAttribute("sandbox", "allow-scripts");  // opaque origin: the app cannot reach this page
  iframe.title = "Task-group explorer";
  document.getElementById("frame").appendChild(iframe);

  const bridge = new AppBridge(
    client,
    { name: "taskgroup-test-host", version: "1.0.0" },
    { openLinks: {}, downloadFile: {}, serverTools: {}, serverResources: {}, logging: {} },
    {
      hostContext: {
        theme,
        displayMode: "inline",
        availableDisplayModes: ["inline", "fullscreen"],
        containerDimensions: { width: 1100, maxHeight: 700 },
        platform: "web",
        locale: "en-US",
        styles: {
          variables: theme === "dark"
            ? { "--color-background-primary": "#10141c", "--color-text-primary": "#e9eef7", "--color-text-info": "#7fb0ff" }
            : { "--color-background-primary": "#fffdf8", "--color-text-primary": "#1d1d1f", "--color-text-info": "#0b57d0" },
        },
      },
    },
  );
  bridge.onopenlink = async ({ url }) => { state.openedLinks.push(url); return {}; };
  bridge.ondownloadfile = async (p) => { state.downloads.push(p); return {}; };
  bridge.onsizechange = ({ width, height }) => {
    state.sizes.push({ width, height });
    if (height) iframe.style.height = Math.min(height, 700) + "px";
  };
  bridge.onrequestdisplaymode = async ({ mode }) => {
    state.displayModes.push(mode);
    document.body.classList.toggle("fullscreen", mode === "fullscreen");
    bridge.setHostContext({ displayMode: mode });
    return { mode };
  };
  bridge.onloggingmessage = (p) => state.logs.push(p);
  bridge.oninitialized = async () => {
    try {
      await bridge.sendToolInput({ arguments: toolArgs });
      const result = await client.callTool({ name: toolName, arguments: toolArgs });
      await bridge.sendToolResult(result);
      state.ready = true;
    } catch (err) {
      state.error = String(err && err.message || err);
    }
  };
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  // Every tools/call the app makes goes to the real server; the host records its name and arguments.
  bridge.oncalltool = async (p) => {
    state.calls.push({ name: p.name, arguments: p.arguments || {} });
    const tool = tools.find((t) => t.name === p.name);
    const visibility = (tool && tool._meta && tool._meta.ui && tool._meta.ui.visibility) || ["model", "app"];
    if (!visibility.includes("app")) throw new Error(`tool ${p.name} is not visible to apps`);
    const result = await client.callTool(p);
    return tamper && p.name === "get_task_run" ? tamperWith(result) : result;
  };
  const csp = `<meta http-equiv="Content-Security-Policy" content="${DEFAULT_CSP}">`;
  iframe.srcdoc = content.text.replace(/<head>/i, `<head>${csp}`);
}

main().catch((err) => { state.error = String(err && err.stack || err); });
