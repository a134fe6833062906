@description('Alert rules on the telemetry the app emits (message templates and custom dimensions of its logs).')
param namePrefix string
param location string
param tags object
param applicationInsightsId string

@description('E-mail address alerted; empty: the rules fire without notifying anyone.')
param alertEmail string

@description('p95 of the production interface above this many milliseconds raises an alert (KooGallery gives 5000).')
param callbackLatencyP95ThresholdMs int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'kgoncall'
    enabled: true
    emailReceivers: [
      {
        name: 'oncall'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'callback-failures'
    displayName: 'KooGallery callbacks answered 000005 or failed'
    description: 'Our side failed a KooGallery callback: KooGallery retries, but 5 failed orders a month delist the product. Read the callback log lines around it (docs/operations.md).'
    severity: 1
    query: 'union (traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "KooGallery callback {Activity} answered" and tostring(customDimensions.ResultCode) == "000005"), (requests | where name == "ProductionInterface" and success == false)'
    measure: ''
    threshold: 0
  }
  {
    name: 'instance-failed'
    displayName: 'KooGallery instance entered Failed'
    description: 'A life-cycle worker gave up (poison queue or a permanent error). Fix the cause, then re-drive the instance (docs/operations.md).'
    severity: 1
    query: 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "Instance {InstanceId} of order {OrderId} FAILED"'
    measure: ''
    threshold: 0
  }
  {
    name: 'callback-latency'
    displayName: 'KooGallery callback latency p95 too high'
    description: 'The production interface is getting close to KooGallery\'s 5-second timeout.'
    severity: 2
    query: 'requests | where name == "ProductionInterface" | summarize p95 = percentile(duration, 95)'
    measure: 'p95'
    threshold: callbackLatencyP95ThresholdMs
  }
  {
    name: 'unsent-usage'
    displayName: 'KooGallery usage unsent'
    description: 'Usage rows are still not accepted by KooGallery Metering__UnsentAlertAge after their period (the push job reports them): the customer\'s bill is late and money may be lost.'
    severity: 2
    query: 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "UNSENT USAGE:"'
    measure: ''
    threshold: 0
  }
  {
    name: 'rejected-usage'
    displayName: 'KooGallery refused usage rows'
    description: 'KooGallery refused usage rows for something in them; the push isolated them and marked them rejected, so they are not billed yet. Read the reason (GET /api/ops/usage/rejected or the console), fix the cause, and re-drive them (docs/operations.md).'
    severity: 2
    query: 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "REJECTED USAGE:"'
    measure: ''
    threshold: 0
  }
  {
    name: 'usage-push-refused'
    displayName: 'KooGallery refuses the usage push'
    description: 'KooGallery refused a usage push as a whole (gateway or body signature, AK/SK, throttling, an unknown code): no usage goes out until the cause is fixed. The rows wait untouched and go out by themselves once it is (docs/operations.md).'
    severity: 1
    query: 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "USAGE PUSH REFUSED:"'
    measure: ''
    threshold: 0
  }
  {
    name: 'parked-usage'
    displayName: 'KooGallery usage batch parked'
    description: 'A usage batch from the merchant\'s SaaS could not be taken (not a batch, or storage failed on every delivery) and was parked. List and re-drive it with /api/ops/usage/parked (docs/operations.md).'
    severity: 2
    query: 'traces | where tostring(customDimensions["{OriginalFormat}"]) startswith "PARKED USAGE:"'
    measure: ''
    threshold: 0
  }
  {
    name: 'dial-test-failed'
    displayName: 'KooGallery dial test of the production address failed'
    description: 'The app played KooGallery\'s debug cases against its own production address and a case failed (the result\'s message names it): KooGallery\'s own dial test would fail too, and five days of failures freeze the product. What each failure means: docs/operations.md, "Dial test".'
    severity: 1
    query: 'availabilityResults | where name == "KooGallery dial test" and success == false'
    measure: ''
    threshold: 0
  }
]

resource alert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for rule in rules: {
  name: '${namePrefix}-${rule.name}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: empty(rule.measure) ? 'Count' : 'Maximum'
          metricMeasureColumn: empty(rule.measure) ? null : rule.measure
          operator: 'GreaterThan'
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
    }
  }
}]
