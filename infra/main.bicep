targetScope = 'subscription'

// KooGallery Functions on Azure: one resource group with the function app, its identity, storage, Key Vault,
// monitoring, alerts and workbook. `azd up` runs this with main.parameters.json; secrets come from azd's
// environment (azd env set …), never from a parameters file, and no output carries one.

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Azure region for every resource.')
param location string

// The one supported plan is Flex Consumption: it runs on identity-based storage alone. Elastic Premium needs an
// Azure Files content share reached with an account key, which this storage account forbids.

@description('True: storage and Key Vault accept no public traffic; the app joins a virtual network and reaches them over private endpoints.')
param privateNetworking bool = false

@description('Key Vault names are deterministic and the vault is purge-protected, so after `azd down` the old one stays soft-deleted for 30 days: recover brings it back, or a suffix gives a new name.')
@allowed(['default', 'recover'])
param keyVaultCreateMode string = 'default'

@maxLength(2)
@description('Appended to the Key Vault name (see keyVaultCreateMode); empty keeps the original name.')
param keyVaultNameSuffix string = ''

@minValue(0)
@description('Instances kept warm for the HTTP functions (KooGallery gives a callback 5 seconds; a cold start can take longer).')
param alwaysReadyHttpInstances int = 1

@allowed(['cn', 'intl', 'eu'])
@description('KooGallery site whose open APIs the app calls.')
param koogallerySite string = 'cn'

@allowed(['BuiltIn', 'Webhook'])
param provisioningMode string = 'BuiltIn'

@description('The merchant tenant API for Webhook mode.')
param tenantApiBaseUrl string = ''

@description('Customer front-end URL template of the built-in provisioner.')
param builtInFrontEndUrlTemplate string = 'https://{instanceId}.tenants.example.com/'

@description('Admin URL template of the built-in provisioner.')
param builtInAdminUrlTemplate string = 'https://{instanceId}.tenants.example.com/admin'

@description('Products billed per day rather than per hour (Metering__DailyBilledProducts).')
param dailyBilledProducts array = []

@description('Usage rows unsent this long after their period are reported and alerted.')
param unsentUsageAlertAge string = '02:00:00'

@description('How long transient failures of life-cycle work are retried before an instance is marked Failed (d.hh:mm:ss).')
param lifecycleGiveUpAfter string = '1.00:00:00'

@description('Where the software sends a user to renew a refused licence when KooGallery names no link.')
param licenseRenewalUrl string = 'https://marketplace.huaweicloud.com/'

@description('The production address exactly as registered with KooGallery, dial-tested by the app itself (DialTest__Url); empty: no dial test. Usually the KOOGALLERY_PRODUCTION_ADDRESS output, or the gateway address in front of it.')
param dialTestUrl string = ''

@description('When the app dial-tests its production address (NCRONTAB, UTC; KooGalleryDialTestSchedule).')
param dialTestSchedule string = '0 */15 * * * *'

@description('Which optional dial-test cases the product has: upgrades, licence codes, joint-operation tenantSync.')
param dialTestUpgrade bool = true
param dialTestLicence bool = false
param dialTestTenantSync bool = false

@description('Joint-operation sign-on: each tenant is served on its own sub-domain, whose first label is the tenant code (Login__TenantFromSubdomain).')
param loginTenantFromSubdomain bool = false

@description('E-mail for alerts; empty: alerts fire without a notification.')
param alertEmail string = ''

@description('Callback latency p95 alert threshold, milliseconds.')
param callbackLatencyP95ThresholdMs int = 2000

@secure()
@description('The KooGallery Key bound to the production address.')
param koogalleryKey string

@secure()
@description('While rotating the Key: a second Key that also verifies calls (KooGallery__Keys__1); answers stay signed with koogalleryKey. Empty otherwise.')
param koogalleryAdditionalKey string = ''

@secure()
@description('Encrypts the initial tenant passwords stored in Table Storage (Credentials__Keys__0): a random secret of at least 32 characters. Keep it: values written with it are unreadable without it.')
param credentialKey string

@secure()
@description('While rotating the credential key: the previous one (Credentials__Keys__1), so values it wrote stay readable. Empty otherwise.')
param credentialPreviousKey string = ''

@secure()
@description('The Key bound to the joint-operation kit interfaces (KooGallery__KitKeys__0); empty: the kit syncs use koogalleryKey.')
param koogalleryKitKey string = ''

@secure()
@description('Signs the login tickets of joint-operation single sign-on (Login__TicketKeys__0, at least 32 characters); empty: sign-on is not offered.')
param loginTicketKey string = ''

@description('The sign-on callback address registered with the application credential (https://<public address>/api/login/callback). Required with loginTicketKey: the app refuses to start with sign-on and no callback address.')
param loginCallbackUrl string = ''

@description('Client id of the Microsoft Entra app registration operators sign in to the console with (it defines the KooGallery.Operator app role); empty: no sign-in, the console takes only an operator key.')
param operatorAppClientId string = ''

@secure()
@description('Client secret of that app registration, for App Service Authentication\'s code flow; empty: the registration must allow ID tokens (implicit flow).')
param operatorAppClientSecret string = ''

@secure()
@description('An operator key for scripts (X-KooGallery-Operator-Key, at least 24 characters); empty: none.')
param operatorKey string = ''

@secure()
@description('Access key id (AK) of the merchant\'s Huawei Cloud account.')
param marketplaceAccessKey string

@secure()
@description('Secret access key (SK) of the merchant\'s Huawei Cloud account.')
param marketplaceSecretKey string

@secure()
@description('HMAC secret for the tenant webhook (Webhook mode), at least 32 characters.')
param tenantWebhookSecret string = ''

@secure()
@description('RSA private key (PEM) for joint-operation clientSecret decryption, when used.')
param rsaPrivateKey string = ''

var tags = { 'azd-env-name': environmentName, application: 'koogallery-functions' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var deploymentContainerName = 'app-package-${take(token, 8)}'

// The names the app uses (StorageOptions defaults); InfrastructureTests checks this list against the code.
var tableNames = ['KooGalleryNonces', 'KooGalleryTenants', 'KooGalleryInstances', 'KooGalleryUsage', 'KooGallerySchedule', 'KooGalleryLicenses', 'KooGalleryJointOperation', 'KooGalleryOperations']
var queueNames = ['koogallery-lifecycle', 'koogallery-lifecycle-poison', 'koogallery-usage', 'koogallery-usage-poison', 'koogallery-licenses', 'koogallery-licenses-poison', 'koogallery-kit-syncs', 'koogallery-kit-syncs-poison']

var siteHosts = {
  cn: { primary: 'https://mkt.myhuaweicloud.com', fallback: 'https://mkt.myhuaweicloud.cn' }
  intl: { primary: 'https://mkt-intl.myhuaweicloud.com', fallback: 'https://mkt.myhuaweicloud.cn' }
  eu: { primary: 'https://mkt.myhuaweicloud.eu', fallback: '' }
}

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: group
  params: {
    name: 'id-koogallery-${token}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  scope: group
  params: {
    name: 'stkg${token}'
    location: location
    tags: tags
    tableNames: tableNames
    queueNames: queueNames
    deploymentContainerName: deploymentContainerName
    principalId: identity.outputs.principalId
    privateNetworking: privateNetworking
  }
}

module vault 'modules/keyvault.bicep' = {
  scope: group
  params: {
    name: 'kv-kg-${take(token, 16)}${keyVaultNameSuffix}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    privateNetworking: privateNetworking
    createMode: keyVaultCreateMode
    koogalleryKey: koogalleryKey
    koogalleryAdditionalKey: koogalleryAdditionalKey
    marketplaceAccessKey: marketplaceAccessKey
    marketplaceSecretKey: marketplaceSecretKey
    tenantWebhookSecret: tenantWebhookSecret
    rsaPrivateKey: rsaPrivateKey
    credentialKey: credentialKey
    credentialPreviousKey: credentialPreviousKey
    koogalleryKitKey: koogalleryKitKey
    loginTicketKey: loginTicketKey
    operatorKey: operatorKey
    operatorAppClientSecret: operatorAppClientSecret
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  scope: group
  params: {
    name: 'vnet-koogallery-${token}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    keyVaultId: vault.outputs.id
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: group
  params: {
    logAnalyticsName: 'log-koogallery-${token}'
    applicationInsightsName: 'appi-koogallery-${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

// Every setting of local.settings.sample.json that is neither a secret nor storage/monitoring plumbing.
var appSettings = {
  KooGallery__MaxClockSkew: '00:01:00'
  KooGallery__NonceRetention: '00:10:00'
  KooGallery__CallbackBudget: '00:00:04'
  Storage__NonceTable: tableNames[0]
  Storage__TenantTable: tableNames[1]
  Storage__InstanceTable: tableNames[2]
  Storage__UsageTable: tableNames[3]
  Storage__ScheduleTable: tableNames[4]
  Storage__LicenseTable: tableNames[5]
  Storage__JointTable: tableNames[6]
  Storage__OperationsTable: tableNames[7]
  // Created here once per deployment: a start of the app makes no storage call.
  Storage__CreateAtStart: 'false'
  KooGalleryLifecycleQueue: queueNames[0]
  KooGalleryUsageQueue: queueNames[2]
  KooGalleryLicenseQueue: queueNames[4]
  KooGalleryKitQueue: queueNames[6]
  KooGalleryUsagePushSchedule: '0 5 * * * *'
  Marketplace__Site: koogallerySite
  Marketplace__BaseUrl: siteHosts[koogallerySite].primary
  Marketplace__FallbackBaseUrl: siteHosts[koogallerySite].fallback
  OutboundHttp__AttemptTimeout: '00:00:10'
  OutboundHttp__MaxRetries: '3'
  OutboundHttp__RetryBaseDelay: '00:00:01'
  OutboundHttp__MaxRetryDelay: '00:00:30'
  OutboundHttp__BreakerFailures: '5'
  OutboundHttp__BreakerDuration: '00:00:30'
  Provisioning__Mode: provisioningMode
  Provisioning__BuiltIn__FrontEndUrlTemplate: builtInFrontEndUrlTemplate
  Provisioning__BuiltIn__AdminUrlTemplate: builtInAdminUrlTemplate
  Provisioning__BuiltIn__AdminUserName: 'admin'
  Provisioning__BuiltIn__Memo: 'Sign in with the initial password and change it.'
  Provisioning__BuiltIn__RefuseDowngrades: 'true'
  Provisioning__Webhook__BaseUrl: tenantApiBaseUrl
  Lifecycle__ExpireTimeOffset: '+08:00'
  Lifecycle__ChangeCheckTimeout: '00:00:02'
  Lifecycle__ChangeCheckAllowOnTimeout: 'true'
  Lifecycle__RequeueAfter: '00:05:00'
  Lifecycle__RetryBaseDelay: '00:00:30'
  Lifecycle__RetryMaxDelay: '00:15:00'
  Lifecycle__GiveUpAfter: lifecycleGiveUpAfter
  Lifecycle__EventRetention: '365.00:00:00'
  Metering__DailyBilledProducts__0: empty(dailyBilledProducts) ? '' : dailyBilledProducts[0]
  Metering__UnsentAlertAge: unsentUsageAlertAge
  Metering__LeaseDuration: '00:10:00'
  Metering__MaxRecordsPerIntake: '1000'
  Metering__MaxRecordAge: '7.00:00:00'
  Metering__SentRetention: '35.00:00:00'
  Metering__RowLevelResultCodes__0: '92020002'
  Licensing__RefreshInterval: '1.00:00:00'
  Licensing__QueryTimeout: '00:00:05'
  Licensing__RenewalUrl: licenseRenewalUrl
  JointOperation__AllowHttpIdentityDomains: 'false'
  KooGalleryDialTestSchedule: dialTestSchedule
  DialTest__Url: dialTestUrl
  DialTest__Upgrade: string(dialTestUpgrade)
  DialTest__Licence: string(dialTestLicence)
  DialTest__TenantSync: string(dialTestTenantSync)
  DialTest__AnswerBudget: '00:00:05'
  DialTest__ReadyTimeout: '00:01:00'
  DialTest__PollInterval: '00:00:02'
  DialTest__CleanupWait: '00:00:30'
  DialTest__History: '7.00:00:00'
  Login__TicketLifetime: '00:02:00'
  Login__StateLifetime: '00:10:00'
  Login__CallbackUrl: loginCallbackUrl
  Login__PlatformTenantParameters: 'tenantCode,tenant_code,tenant'
  Login__PlatformDomainParameters: 'domainName,domain'
  Login__TenantFromSubdomain: string(loginTenantFromSubdomain)
  Login__Scope: 'get_user_info'
  Login__AuthorizePath: '/api/v1/oauth2/authorize'
  Login__TokenPath: '/api/v1/oauth2/token'
  Login__UserInfoPath: '/api/v1/oauth2/userinfo'
  Login__Issuer: 'koogallery-functions'
  // The principal header is trusted only where App Service Authentication sets it.
  Console__PlatformAuthentication: empty(operatorAppClientId) ? 'false' : 'true'
  Console__OperatorRole: 'KooGallery.Operator'
}

module app 'modules/functionapp.bicep' = {
  scope: group
  params: {
    name: 'func-koogallery-${token}'
    planName: 'plan-koogallery-${token}'
    location: location
    tags: tags
    subnetId: privateNetworking ? network!.outputs.appSubnetId : ''
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultName: vault.outputs.name
    hasAdditionalKey: !empty(koogalleryAdditionalKey)
    hasTenantWebhookSecret: !empty(tenantWebhookSecret)
    hasPreviousCredentialKey: !empty(credentialPreviousKey)
    hasKitKey: !empty(koogalleryKitKey)
    hasRsaPrivateKey: !empty(rsaPrivateKey)
    hasLoginTicketKey: !empty(loginTicketKey)
    hasOperatorKey: !empty(operatorKey)
    hasOperatorAppClientSecret: !empty(operatorAppClientSecret)
    operatorAppClientId: operatorAppClientId
    appSettings: union(appSettings, length(dailyBilledProducts) > 1
      ? toObject(range(1, length(dailyBilledProducts) - 1), i => 'Metering__DailyBilledProducts__${i}', i => dailyBilledProducts[i])
      : {})
  }
}

module alerts 'modules/alerts.bicep' = {
  scope: group
  params: {
    namePrefix: 'koogallery-${token}'
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmail: alertEmail
    callbackLatencyP95ThresholdMs: callbackLatencyP95ThresholdMs
  }
}

module workbook 'modules/workbook.bicep' = {
  scope: group
  params: {
    name: 'KooGallery Functions'
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = group.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output KOOGALLERY_PRODUCTION_ADDRESS string = 'https://${app.outputs.defaultHostName}/api/koogallery'
output KOOGALLERY_CONSOLE_ADDRESS string = 'https://${app.outputs.defaultHostName}/api/console'
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
