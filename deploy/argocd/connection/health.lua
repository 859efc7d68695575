-- Argo CD health check for ai.zstack.io/ZStackConnection and ai.zstack.io/ClusterZStackConnection
-- (zstack-operator): one script for both kinds.
--
-- Reads the operator's Ready condition (and its observedGeneration):
--   Healthy      Ready=True (the operator logged in to ZStack) for the current spec
--   Degraded     Ready=False with a terminal reason (LoginFailed, SecretInvalid,
--                TLSVerifyFailed, InsecureEndpoint, InvalidSpec), or Stalled=True, for the
--                current spec: it waits for a change to the spec or the Secret
--   Progressing  everything else: no status yet, a spec the operator has not checked, a
--                Secret not there yet, ZStack unreachable, a deletion waiting for the
--                ModelServices that still use the connection (reason InUse)
-- Argo CD runs this under gopher-lua (Lua 5.1); tests/unit/test_argocd_health.py runs the cases
-- in health_test.yaml under Lua 5.1 too.

local TERMINAL = {
  LoginFailed = true,
  SecretInvalid = true,
  TLSVerifyFailed = true,
  InsecureEndpoint = true,
  InvalidSpec = true,
}

local hs = {}

local function find(conditions, kind)
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

-- A condition describes the current spec when its observedGeneration (or, failing that,
-- status.observedGeneration) equals metadata.generation.
local function current(condition)
  local seen = condition.observedGeneration
  if seen == nil then
    seen = obj.status.observedGeneration
  end
  return seen ~= nil and seen == obj.metadata.generation
end

local conditions = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  conditions = obj.status.conditions
end
local ready = find(conditions, "Ready")

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  if ready ~= nil and ready.reason == "InUse" then
    hs.message = "InUse: " .. describe(ready, "waiting for the ModelServices that use it")
  else
    hs.message = "Deleting: waiting for the operator to release the connection"
  end
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if not current(ready) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to check generation " .. tostring(obj.metadata.generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Connected")
  return hs
end

local stalled = find(conditions, "Stalled")
if ready.status == "False" and (TERMINAL[ready.reason] or
    (stalled ~= nil and stalled.status == "True" and current(stalled))) then
  hs.status = "Degraded"
  hs.message = tostring(ready.reason) .. ": " .. describe(ready, "waiting for a change to the spec or the Secret")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Not ready: " .. tostring(ready.reason))
return hs
