-- Argo CD health check for Module, ModuleInstallation and MarketplaceListing
-- (modules.adxcore.com). The operator follows kstatus: Ready is the rollup, Stalled means a human
-- must act, Reconciling means work in flight. Mapped to Argo CD's statuses:
--   status not yet observed for this generation -> Progressing
--   Stalled=True                                -> Degraded (with the operator's message)
--   Ready=True                                  -> Healthy
--   Ready=False with reason DryRun              -> Suspended (a dry run waits for the user)
--   anything else                               -> Progressing
local hs = {}
local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if obj.status.observedGeneration ~= nil and generation ~= nil and obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. generation
  return hs
end
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil and ready.reason == "DryRun" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
if ready ~= nil and ready.message ~= nil then
  hs.message = ready.message
else
  hs.message = "waiting for the operator"
end
return hs
