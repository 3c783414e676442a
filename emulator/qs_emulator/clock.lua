-- Time in milliseconds since the epoch, as the vendor gives it: integers for date_created,
-- fractional numbers for date_updated (e.g. 1659513665796.916) so that clients never assume
-- integers.
local ngx_now, update_time = ngx.now, ngx.update_time
local floor = math.floor

local clock = {}

local tick = 0

-- Integer milliseconds, freshly read.
function clock.now_ms()
  update_time()
  return floor(ngx_now() * 1000 + 0.5)
end

-- The same instant with a non-zero sub-millisecond part (never an integer).
function clock.fractional(ms)
  tick = tick % 997 + 1
  return ms + (tick * 7 % 997 + 1) / 1000
end

-- Seconds (float), for expiries.
function clock.now_s()
  update_time()
  return ngx_now()
end

return clock
