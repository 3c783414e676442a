-- Everything the emulator remembers, reset in one place (POST /_emulator/reset).
local config = require "qs_emulator.config"
local selection = require "qs_emulator.selection"
local keys = require "qs_emulator.keys"
local faults = require "qs_emulator.faults"
local request_log = require "qs_emulator.request_log"
local deliveries = require "qs_emulator.deliveries"
local pdf_files = require "qs_emulator.pdf_files"
local document_packs = require "qs_emulator.store.document_packs"
local webhooks = require "qs_emulator.store.webhooks"
local callback_logs = require "qs_emulator.store.callback_logs"
local access_tokens = require "qs_emulator.store.access_tokens"
local delivery_attempts = require "qs_emulator.store.delivery_attempts"
local sinks = require "qs_emulator.store.sinks"

local state = {}

function state.reset()
  config.reset()
  selection.reset()
  keys.init()
  faults.reset()
  request_log.reset()
  deliveries.reset()
  pdf_files.reset()
  document_packs.reset()
  webhooks.reset()
  callback_logs.reset()
  access_tokens.reset()
  delivery_attempts.reset()
  sinks.reset()
end

return state
