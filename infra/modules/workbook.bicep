@description('An Azure Monitor workbook: callbacks by activity and result code, latency percentiles, provisioning backlog and failures, usage push.')
param name string
param location string
param tags object
param applicationInsightsId string

var callbackLines = 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "KooGallery callback {Activity} answered" | extend activity = tostring(customDimensions.Activity), resultCode = tostring(customDimensions.ResultCode), elapsedMs = todouble(customDimensions.ElapsedMs)'

func query(title string, kql string, visualization string) object => {
  type: 3
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: kql
    size: 0
    timeContext: { durationMs: 86400000 }
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: visualization
  }
}

var content = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      content: {
        json: '## KooGallery Functions\nCallbacks from KooGallery, their answers and timings, the life-cycle work behind them, and usage pushed back.'
      }
    }
    query('Callbacks by activity and result code', '${callbackLines} | summarize calls = count() by activity, resultCode | order by activity asc, resultCode asc', 'table')
    query('Callbacks over time by result code', '${callbackLines} | summarize calls = count() by resultCode, bin(timestamp, 15m)', 'timechart')
    query('Callback latency percentiles (ms, inside the worker)', '${callbackLines} | summarize p50 = percentile(elapsedMs, 50), p95 = percentile(elapsedMs, 95), p99 = percentile(elapsedMs, 99) by bin(timestamp, 15m)', 'timechart')
    query('Production interface request duration (ms, host view)', 'requests | where name == "ProductionInterface" | summarize p50 = percentile(duration, 50), p95 = percentile(duration, 95), p99 = percentile(duration, 99) by bin(timestamp, 15m)', 'timechart')
    query('Provisioning backlog: instances created vs ready', 'traces | extend f = tostring(customDimensions["{OriginalFormat}"]) | where f startswith "Instance {InstanceId} created" or f startswith "Work {Work} for instance {InstanceId} (order {OrderId}, delivery {Delivery}): {Outcome}" | extend kind = iff(f startswith "Instance", "created", tostring(customDimensions.Work)) | summarize count() by kind, bin(timestamp, 1h)', 'timechart')
    query('Instances that failed, with the reason', 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "Instance {InstanceId} of order {OrderId} FAILED" | project timestamp, instance = tostring(customDimensions.InstanceId), order = tostring(customDimensions.OrderId), work = tostring(customDimensions.Work), reason = tostring(customDimensions.Reason) | order by timestamp desc', 'table')
    query('Worker retries (scheduled after transient failures)', 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "Instance {InstanceId} of order {OrderId}: {Work} failed {Failures} time(s)" | summarize retries = count() by work = tostring(customDimensions.Work), bin(timestamp, 1h)', 'timechart')
    query('Usage pushed and unsent', 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "Usage push run:" | project timestamp, pushed = toint(customDimensions.Pushed), leftPending = toint(customDimensions.LeftPending), unsentPastAlertAge = toint(customDimensions.Unsent)', 'timechart')
  ]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, name)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: name
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(content)
  }
}
