-- The command tree: names, options, arguments and help text of every command, and which module
-- runs it. Nothing is loaded until a command runs, so `help`, usage errors, completion and
-- `listen` work without the C module; `listen` and `trigger` need LuaSocket.
--
-- To add a command: write its module in cli/ (a function taking the context, see context.lua,
-- and returning an exit code), describe it here as a node (name, summary, usage, description,
-- options, args, run = handler("quicklysign.cli.<module>", "<function>")), and list it in
-- root.commands at the end of this file, or in a group's `commands`. Help, "did you mean",
-- shell completion and the specs that walk the tree pick it up from there; nothing else needs
-- registering. A node with `hidden = true` works but is left out of help and completion.
local require = require

local function handler(module, fn)
  return function(ctx) return require(module)[fn](ctx) end
end

local root = {
  name = "quicklysign",
  usage = "quicklysign [global options] <command> [<subcommand>] [options] [arguments]",
  description = {
    "QuicklySign webhooks and document packs from the shell, and a local receiver for",
    "their callbacks. Credentials come from the environment only (see below).",
  },
  options = {
    { name = "base-url", value = "URL",
      help = "API base URL (default: $QUICKLYSIGN_BASE_URL, else the URL of --environment)" },
    { name = "environment", value = "ENV", choices = { "sandbox", "production" },
      help = "sandbox or production (default: $QUICKLYSIGN_ENVIRONMENT, else sandbox)" },
    { name = "timeout", value = "S", type = "number", min = 0.001, max = 86400,
      help = "seconds one API call may take, retries included (default 30; not downloads)" },
    { name = "download-timeout", value = "S", type = "number", min = 0.001, max = 86400,
      help = "seconds one download (a PDF) may take, retries included (default 300)" },
    { name = "json", help = "machine-readable output: one JSON document per result on stdout" },
    { name = "quiet", short = "q", help = "print only keys (or file paths), one per line; no notices" },
    { name = "wide", help = "tables as wide as their contents (default: cut to the terminal's width)" },
    { name = "show-secrets", help = "print callback URLs with their tokens (default: masked)" },
    { name = "help", short = "h", help = "show help for the command it follows" },
    { name = "version", short = "v", help = "print the version and exit" },
  },
  environment = {
    { "QUICKLYSIGN_CLIENT_ID", "your application's client id (every API command)" },
    { "QUICKLYSIGN_CLIENT_SECRET", "its client secret (every API command)" },
    { "QUICKLYSIGN_API_KEY", "a user's API key (packs commands, listen --download)" },
    { "QUICKLYSIGN_BASE_URL", "API base URL, e.g. http://127.0.0.1:8089/v1 for the emulator" },
    { "QUICKLYSIGN_ENVIRONMENT", "sandbox (default) or production" },
    { "QUICKLYSIGN_LISTEN_TOKEN", "default for listen --token" },
    { "QUICKLYSIGN_INBOX", "default for --inbox (worker, inbox, reconcile)" },
    { "COLUMNS", "the width tables are cut to (default: the terminal's, when output is one)" },
  },
  notes = {
    "Keys are arguments even when they begin with '-' or '--'; after a '--' argument",
    "every word is one.",
  },
}

local webhooks = {
  name = "webhooks",
  summary = "manage webhook subscriptions",
  usage = "quicklysign webhooks <create|ensure|get|list|delete|logs> [options]",
  description = {
    "A webhook subscribes a callback URL to the changes of one document pack: QuicklySign",
    "then POSTs entity_updated, document_status_changed and final_document_generated",
    "callbacks to it. Needs QUICKLYSIGN_CLIENT_ID and QUICKLYSIGN_CLIENT_SECRET.",
  },
  commands = {
    {
      name = "create",
      summary = "subscribe a callback URL to a document pack",
      usage = "quicklysign webhooks create --entity KEY --callback URL",
      description = {
        "Subscribes URL to the changes of the document pack KEY and prints the new webhook.",
        "QuicklySign calls https URLs only: reach a local 'quicklysign listen' through an",
        "https tunnel. Running it twice subscribes twice; scripts want 'webhooks ensure'.",
      },
      options = {
        { name = "entity", value = "KEY", required = true, help = "the document pack key to watch" },
        { name = "callback", value = "URL", required = true, help = "the URL QuicklySign will POST callbacks to" },
      },
      run = handler("quicklysign.cli.webhooks", "create"),
    },
    {
      name = "ensure",
      summary = "subscribe unless that subscription exists",
      usage = "quicklysign webhooks ensure --entity KEY --callback URL",
      description = {
        "Like create, but first looks for a webhook of KEY with exactly this URL and creates",
        "one only when there is none: safe to run again. Prints the webhook and whether it",
        "was created (--json: {\"created\": true|false, \"webhook\": {...}}).",
      },
      options = {
        { name = "entity", value = "KEY", required = true, help = "the document pack key to watch" },
        { name = "callback", value = "URL", required = true, help = "the URL QuicklySign will POST callbacks to" },
      },
      run = handler("quicklysign.cli.webhooks", "ensure"),
    },
    {
      name = "get",
      summary = "show one webhook",
      usage = "quicklysign webhooks get KEY",
      description = { "Prints the webhook whose key is KEY (exit 4 when there is none)." },
      args = { { name = "KEY", help = "the webhook's key" } },
      run = handler("quicklysign.cli.webhooks", "get"),
    },
    {
      name = "list",
      summary = "list webhooks, all or one pack's",
      usage = "quicklysign webhooks list [--entity KEY]",
      description = { "Lists every webhook of the application, or those of one document pack." },
      options = { { name = "entity", value = "KEY", help = "only the webhooks of this document pack" } },
      run = handler("quicklysign.cli.webhooks", "list"),
    },
    {
      name = "delete",
      summary = "delete a webhook, or every webhook of a pack",
      usage = "quicklysign webhooks delete (KEY | --entity KEY)",
      description = {
        "Deletes the webhook KEY (exit 4 when there is none), or with --entity every",
        "webhook of that document pack.",
      },
      args = { { name = "KEY", optional = true, help = "the webhook's key" } },
      options = { { name = "entity", value = "KEY", help = "delete every webhook of this document pack" } },
      run = handler("quicklysign.cli.webhooks", "delete"),
    },
    {
      name = "logs",
      summary = "show the callbacks QuicklySign sent",
      usage = "quicklysign webhooks logs (--entity KEY | --webhook KEY) [--follow [--interval S]]",
      description = {
        "Lists the callback log: each delivery QuicklySign attempted, with its event and",
        "outcome, for one document pack or one webhook. With --follow it keeps asking for the",
        "log and prints each new entry as it appears (--json: one object per line) until",
        "Ctrl-C.",
      },
      options = {
        { name = "entity", value = "KEY", help = "the deliveries for this document pack" },
        { name = "webhook", value = "KEY", help = "the deliveries of this webhook" },
        { name = "follow", short = "f", help = "keep polling and print new entries as they appear" },
        { name = "interval", value = "S", type = "number", min = 0.1, max = 3600,
          help = "seconds between two polls with --follow (default 2)" },
      },
      run = handler("quicklysign.cli.webhooks", "logs"),
    },
  },
}

local packs = {
  name = "packs",
  summary = "read document packs and download their PDFs",
  usage = "quicklysign packs <get|download> KEY [DIR]",
  description = {
    "Document packs are read with an access token minted from QUICKLYSIGN_API_KEY",
    "(with QUICKLYSIGN_CLIENT_ID and QUICKLYSIGN_CLIENT_SECRET).",
  },
  commands = {
    {
      name = "get",
      summary = "show a document pack, its signatories and documents",
      usage = "quicklysign packs get KEY",
      description = { "Prints the document pack KEY: status, signatories and documents." },
      args = { { name = "KEY", help = "the document pack's key" } },
      run = handler("quicklysign.cli.packs", "get"),
    },
    {
      name = "download",
      summary = "download the final PDFs of a document pack",
      usage = "quicklysign packs download KEY DIR",
      description = {
        "Downloads the final PDF of every document of the pack KEY into DIR (created when",
        "missing). File names come from document names, made safe; an existing file of",
        "the same name is replaced once the new one is complete. The documents download",
        "at once; on a terminal a progress bar shows the bytes, the rate and the time left",
        "(not with -q or --json). Each download has --download-timeout seconds.",
      },
      args = {
        { name = "KEY", help = "the document pack's key" },
        { name = "DIR", help = "the folder to write the PDFs to" },
      },
      run = handler("quicklysign.cli.packs", "download"),
    },
  },
}

local doctor = {
  name = "doctor",
  summary = "find which reading of the vendor's pages the API plays, and what to configure",
  usage = "quicklysign doctor [--pack KEY]",
  description = {
    "Asks the API, read-only, how it answers where the vendor's pages disagree: whether",
    "webhook calls need an access token and in which header, the list's shape, its",
    "pagination, the callback log's filter, the answer for an unknown webhook key, and with",
    "--pack where a document's PDF lives and what it answers (downloaded to a temporary",
    "file, then removed). Prints each finding with the emulator profile that plays it, and",
    "what to configure. Uses QUICKLYSIGN_CLIENT_ID, QUICKLYSIGN_CLIENT_SECRET and, for the",
    "token and PDF checks, QUICKLYSIGN_API_KEY. Creates and deletes nothing; prints no secret.",
  },
  options = {
    { name = "pack", value = "KEY", help = "also check the PDF of this document pack's first document" },
  },
  run = handler("quicklysign.cli.doctor", "run"),
}

local listen = {
  name = "listen",
  summary = "receive callbacks locally and print them as they arrive",
  usage = "quicklysign listen [--host H] [--port N] [--path P] [--token T] [--forward-to URL] "
    .. "[--download DIR] [--once]",
  description = {
    "Runs a small HTTP receiver and prints a line per callback: time, event, entity key,",
    "webhook key (--json: one JSON object per line). Well-formed callbacks are answered",
    "200; a wrong token 403, a wrong path 404, anything else the status the callbacks",
    "library gives (405, 413, 415, 400...). Prints the URL to subscribe with at start.",
    "With --forward-to, each accepted callback is POSTed, as received, to URL (your own",
    "receiver), its answer is printed and passed back to QuicklySign, so that a failure",
    "there is retried as it would be in production. Serves many connections at once.",
    "QuicklySign itself only calls https URLs: put an https tunnel in front of it, or",
    "subscribe it on the local emulator. Needs LuaSocket. Stop it with Ctrl-C (exit 130).",
  },
  options = {
    { name = "host", value = "H", help = "address to bind (default 127.0.0.1)" },
    { name = "port", value = "N", type = "integer", min = 0, max = 65535,
      help = "port to bind (default 8090; 0 picks a free one)" },
    { name = "path", value = "P", help = "the only path callbacks are accepted on (default /)" },
    { name = "token", value = "T",
      help = "require ?token=T on callbacks, 16+ characters (default $QUICKLYSIGN_LISTEN_TOKEN)" },
    { name = "forward-to", value = "URL",
      help = "POST each accepted callback to this http:// URL and answer with its status" },
    { name = "download", value = "DIR",
      help = "on final_document_generated, download the pack's PDFs to DIR/<pack key>/" },
    { name = "once", help = "exit after the first accepted callback" },
  },
  run = handler("quicklysign.cli.listen", "run"),
}

local INBOX_OPTION = { name = "inbox", value = "URL",
  help = "the inbox: sqlite:///path/file.db or redis://host:port/db (default $QUICKLYSIGN_INBOX)" }

local worker = {
  name = "worker",
  summary = "run the handlers for the callbacks stored in an inbox",
  usage = "quicklysign worker --handlers MODULE [--inbox URL] [--concurrency N] [--lease S] "
    .. "[--max-attempts N] [--retry-delay S] [--until-idle]",
  description = {
    "Leases the callbacks a receiver stored in the inbox and runs your handlers for them,",
    "retrying failures with backoff until they succeed or are parked as dead. MODULE (a",
    "module on LUA_PATH, or a .lua file) returns function(router, client) that registers",
    "the handlers with router:on / router:on_any; client is made from QUICKLYSIGN_*.",
    "Runs until stopped (Ctrl-C), or with --until-idle until nothing is due. Each process",
    "runs one job at a time: --concurrency N runs N processes and restarts one that dies.",
  },
  options = {
    { name = "handlers", value = "MODULE", required = true, help = "module returning function(router, client)" },
    INBOX_OPTION,
    { name = "concurrency", value = "N", type = "integer", min = 1, max = 256,
      help = "worker processes (default 1)" },
    { name = "lease", value = "S", type = "number", min = 0.1, max = 86400,
      help = "seconds a job stays leased to a worker that may have died (default 120)" },
    { name = "max-attempts", value = "N", type = "integer", min = 1, max = 1000,
      help = "attempts before a job is dead (default 25)" },
    { name = "retry-delay", value = "S", type = "number", min = 0.001, max = 86400,
      help = "first retry delay, doubling each time (default 5)" },
    { name = "until-idle", help = "return once no job is due, printing what was done" },
    { name = "worker-id", value = "ID", help = "this worker's name in leases (default host:random)" },
  },
  run = handler("quicklysign.cli.inbox", "worker"),
}

local inbox = {
  name = "inbox",
  summary = "look into the durable inbox: counts, dead jobs, retry, drop",
  usage = "quicklysign inbox <stats|dead|retry|drop> [options]",
  description = {
    "The inbox stores each callback the receiver answered 200 until a worker has done its work.",
    "A job that failed max-attempts times is dead: fix the cause, then retry it.",
  },
  commands = {
    { name = "stats", summary = "count jobs by state", usage = "quicklysign inbox stats [--inbox URL]",
      description = { "Prints how many jobs are queued, running, retrying, dead and done." },
      options = { INBOX_OPTION }, run = handler("quicklysign.cli.inbox", "stats") },
    { name = "dead", summary = "list dead jobs with their last error", usage = "quicklysign inbox dead [--inbox URL]",
      description = { "Lists the dead jobs, oldest first: id, event, pack, attempts, last error." },
      options = { INBOX_OPTION }, run = handler("quicklysign.cli.inbox", "dead") },
    { name = "retry", summary = "put dead jobs back in the queue", usage = "quicklysign inbox retry (ID | --all)",
      description = { "Puts the dead job ID (or every dead job) back in the queue, its attempts reset." },
      args = { { name = "ID", optional = true, help = "a dead job's id" } },
      options = { INBOX_OPTION, { name = "all", help = "every dead job" } },
      run = handler("quicklysign.cli.inbox", "retry") },
    { name = "drop", summary = "delete a dead job for good", usage = "quicklysign inbox drop ID",
      description = { "Deletes the dead job ID: its work will not be done." },
      args = { { name = "ID", help = "a dead job's id" } },
      options = { INBOX_OPTION }, run = handler("quicklysign.cli.inbox", "drop") },
  },
}

local events = {
  name = "events",
  summary = "the callbacks stored in the inbox: run one again, or send it to a receiver",
  usage = "quicklysign events resend ID [--to URL] [--inbox URL]",
  description = {
    "Callbacks a receiver answered 200 are stored in the inbox (quicklysign inbox stats).",
  },
  commands = {
    { name = "resend", summary = "run a stored callback's handlers again, or POST it to a receiver",
      usage = "quicklysign events resend ID [--to URL] [--inbox URL]",
      description = {
        "Puts the done or dead job ID back in the queue, its attempts reset, so that the",
        "workers run its handlers again. With --to, POSTs the callback's body as QuicklySign",
        "sent it to URL (plain http, e.g. a receiver you are debugging) and prints the answer:",
        "exit 0 for a 200, 1 for another status.",
      },
      args = { { name = "ID", help = "the stored callback's job id (quicklysign inbox dead shows them)" } },
      options = { INBOX_OPTION, { name = "to", value = "URL", help = "POST it to this http:// URL instead" } },
      run = handler("quicklysign.cli.inbox", "resend") },
  },
}

local reconcile = {
  name = "reconcile",
  summary = "find final events the receiver never got, and queue them",
  usage = "quicklysign reconcile [--inbox URL] [--entity KEY ...]",
  description = {
    "Checks each subscribed document pack (or the --entity ones) with the API and stores a",
    "final_document_generated in the inbox for every complete pack whose final work is",
    "neither done nor underway. A webhook is a hint: run this from cron. Needs",
    "QUICKLYSIGN_API_KEY besides the client credentials.",
  },
  options = { INBOX_OPTION,
    { name = "entity", value = "KEY", repeatable = true, help = "a pack to check (repeat it; default: every "
      .. "pack with a webhook)" } },
  run = handler("quicklysign.cli.inbox", "reconcile"),
}

local trigger = {
  name = "trigger",
  summary = "make the local emulator send a real event for a pack",
  usage = "quicklysign trigger EVENT --entity KEY",
  description = {
    "Drives the document pack KEY in the local emulator (its /_emulator endpoints) so that",
    "it fires EVENT, delivered like any other to every webhook of the pack: entity_updated",
    "(an update), document_status_changed (send, the next signature, or completion) or",
    "final_document_generated (completion, which also sends document_status_changed).",
    "Works against the emulator only (--base-url or QUICKLYSIGN_BASE_URL, plain http):",
    "QuicklySign's own API has no way to drive a pack. Needs LuaSocket.",
  },
  args = { { name = "EVENT", help = "entity_updated, document_status_changed or final_document_generated",
    choices = { "entity_updated", "document_status_changed", "final_document_generated" } } },
  options = { { name = "entity", value = "KEY", required = true, help = "the emulator's document pack to drive" } },
  run = handler("quicklysign.cli.trigger", "run"),
}

local completion = {
  name = "completion",
  summary = "print the shell completion script for bash or zsh",
  usage = "quicklysign completion (bash | zsh)",
  description = {
    "Prints the completion script of SHELL. Load it in the current shell with",
    "'source <(quicklysign completion bash)' (zsh: 'source <(quicklysign completion zsh)'),",
    "or from your shell's startup file. The rock also installs both scripts.",
  },
  args = { { name = "SHELL", help = "bash or zsh", choices = { "bash", "zsh" } } },
  run = handler("quicklysign.cli.completion", "script"),
}

-- What the completion scripts call: the candidates for the word being completed.
local complete = {
  name = "__complete",
  hidden = true,
  summary = "completion candidates (used by the completion scripts)",
  usage = "quicklysign __complete -- WORD...",
  description = { "Prints the candidates for the last WORD, one per line." },
  args = { { name = "WORD", optional = true, repeated = true, help = "the words of the line so far" } },
  run = handler("quicklysign.cli.completion", "complete"),
}

local version = {
  name = "version",
  summary = "print the version",
  usage = "quicklysign version",
  description = { "Prints the version of quicklysign, and the Lua and libcurl it runs on." },
  run = handler("quicklysign.cli.info", "version"),
}

local help = {
  name = "help",
  summary = "show help for a command",
  usage = "quicklysign help [<command> [<subcommand>]]",
  description = { "Shows the help of a command; the same as '<command> --help'." },
  args = {
    { name = "COMMAND", optional = true, help = "a command" },
    { name = "SUBCOMMAND", optional = true, help = "one of its subcommands" },
  },
  -- run by cli.lua, which knows the tree
}

root.commands = { webhooks, packs, doctor, listen, worker, inbox, events, reconcile, trigger, completion, version,
  help, complete }

return { root = root }
