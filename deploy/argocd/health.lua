-- Argo CD health check for ai.zstack.io/ModelService (zstack-operator).
--
-- Reads the operator's conditions (docs: Ready and Synced, each with observedGeneration):
--   Healthy      Ready=True, computed from the current spec (metadata.generation)
--   Degraded     Synced=False with a terminal reason (Rejected, InvalidSpec,
--                ImmutableFieldChanged, NotOwned) for the current spec: it waits for a spec
--                change
--   Suspended    Synced=False reason Paused (annotation ai.zstack.io/paused: "true")
--   Progressing  everything else: no status yet, a spec the operator has not seen, a create,
--                update or retry in flight, a deletion waiting for ZStack
-- Argo CD runs this under gopher-lua (Lua 5.1); tests/unit/test_argocd_health.py runs the cases
-- in health_test.yaml under Lua 5.1 too.

local TERMINAL = {
  Rejected = true, InvalidSpec = true, ImmutableFieldChanged = true, NotOwned = true,
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

-- A condition describes the current spec when its observedGeneration (or, for operators that
-- only set the top-level field, status.observedGeneration) equals metadata.generation.
local function current(condition)
  local seen = condition.observedGeneration
  if seen == nil then
    seen = obj.status.observedGeneration
  end
  return seen ~= nil and seen == obj.metadata.generation
end

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: waiting for the operator to remove the model service from ZStack"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local ready = find(obj.status.conditions, "Ready")
local synced = find(obj.status.conditions, "Synced")

if synced ~= nil and synced.status == "False" and synced.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(synced, "Paused: the operator makes no changes in ZStack")
  return hs
end

if synced ~= nil and synced.status == "False" and TERMINAL[synced.reason] and current(synced) then
  hs.status = "Degraded"
  hs.message = synced.reason .. ": " .. describe(synced, "the operator waits for a spec change")
  return hs
end

if ready ~= nil and ready.status == "True" and current(ready) then
  hs.status = "Healthy"
  hs.message = describe(ready, "Available")
  return hs
end

hs.status = "Progressing"
if ready == nil then
  hs.message = "Waiting for the Ready condition"
elseif not current(ready) then
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(obj.metadata.generation)
else
  hs.message = describe(ready, "Not ready: " .. tostring(ready.reason))
end
return hs
