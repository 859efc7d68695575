-- Argo CD health check for ai.zstack.io/ModelService, ai.zstack.io/Model and
-- ai.zstack.io/ModelServiceDeployment (zstack-operator): one script for the three kinds, which
-- share the condition vocabulary.
--
-- Reads the operator's conditions (docs: Ready and Synced, each with observedGeneration, and
-- kstatus' Stalled derived from them):
--   Healthy      Ready=True, computed from the current spec (metadata.generation); a
--                deployment's message names its endpoint (status.endpoint)
--   Degraded     for the current spec: Synced=False with a terminal reason (Rejected,
--                InvalidSpec, ImmutableFieldChanged, NotOwned) or Stalled=True, which wait
--                for a spec change; or Ready=False reason Failed (a deployment's instance
--                group failed to start)
--   Suspended    Synced=False reason Paused (annotation ai.zstack.io/paused: "true")
--   Progressing  everything else: no status yet, a spec the operator has not seen, a create,
--                deploy, update or retry in flight, a ModelService or Model it waits for
--                (WaitingForDependency), a deletion waiting for ZStack or for the objects
--                that still use it
-- Argo CD runs this under gopher-lua (Lua 5.1); tests/unit/test_argocd_health.py runs the cases
-- in health_test.yaml under Lua 5.1 too.

local TERMINAL = {
  Rejected = true, InvalidSpec = true, ImmutableFieldChanged = true, NotOwned = true,
}

-- What a deletion waits to remove from ZStack, by kind.
local DELETES = {
  ModelService = "the model service",
  Model = "the model",
  ModelServiceDeployment = "the model service instance group",
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
  hs.message = "Deleting: waiting for the operator to remove "
    .. (DELETES[obj.kind] or "the resource") .. " from ZStack"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local ready = find(obj.status.conditions, "Ready")
local synced = find(obj.status.conditions, "Synced")
local stalled = find(obj.status.conditions, "Stalled")

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

-- Stalled carries any terminal Synced reason, including one newer than this script.
if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = tostring(stalled.reason) .. ": " .. describe(stalled, "the operator waits for a spec change")
  return hs
end

-- Not terminal for the operator (it keeps reading ZStack), but waiting will not help: ZStack
-- reports the instance group failed.
if ready ~= nil and ready.status == "False" and ready.reason == "Failed" and current(ready) then
  hs.status = "Degraded"
  hs.message = "Failed: " .. describe(ready, "ZStack reports the deployment failed")
  return hs
end

if ready ~= nil and ready.status == "True" and current(ready) then
  hs.status = "Healthy"
  hs.message = describe(ready, "Available")
  local endpoint = obj.status.endpoint
  if endpoint ~= nil and endpoint ~= "" and string.find(hs.message, endpoint, 1, true) == nil then
    hs.message = hs.message .. " at " .. endpoint
  end
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
