@description('Storage account for the Functions host, the app\'s tables and queues, and the deployment package.')
param name string
param location string
param tags object

@description('Tables the app uses (StorageOptions.Tables).')
param tableNames array

@description('Queues the app uses, each with its -poison twin (StorageOptions.Queues).')
param queueNames array

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Principal id of the app\'s managed identity.')
param principalId string

@description('True: no access from public networks; the app reaches the account over private endpoints.')
param privateNetworking bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Identity only: no account keys, no connection strings with secrets anywhere.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    defaultToOAuthAuthentication: true
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    resource deployment 'containers' = {
      name: deploymentContainerName
    }
  }

  resource queues 'queueServices' = {
    name: 'default'
    resource queue 'queues' = [for queue in queueNames: {
      name: queue
    }]
  }

  resource tables 'tableServices' = {
    name: 'default'
    resource table 'tables' = [for table in tableNames: {
      name: table
    }]
  }
}

// Blob Data Owner: the host's locks and the deployment package; Queue and Table Data Contributor: the app.
var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in items(roles): {
  name: guid(storage.id, principalId, role.value)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
  }
}]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
