@description('Private networking: a virtual network the function app joins, and private endpoints (with their private DNS zones) for the storage account and the Key Vault, so neither accepts traffic from the internet.')
param name string
param location string
param tags object

@description('Resource id of the storage account reached over blob, queue and table private endpoints.')
param storageAccountId string

@description('Resource id of the Key Vault reached over a private endpoint.')
param keyVaultId string

@description('Address space of the virtual network; the two /24 subnets below are carved from its first addresses.')
param addressPrefix string = '10.40.0.0/16'

// Flex Consumption joins a subnet delegated to Microsoft.App/environments; private endpoints get their own subnet.
resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// Zone names follow the cloud (environment()), so sovereign clouds get their own suffixes.
var endpoints = [
  { group: 'blob', target: 'storage', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { group: 'queue', target: 'storage', zone: 'privatelink.queue.${environment().suffixes.storage}' }
  { group: 'table', target: 'storage', zone: 'privatelink.table.${environment().suffixes.storage}' }
  { group: 'vault', target: 'vault', zone: 'privatelink${replace(environment().suffixes.keyvaultDns, 'vault.', 'vaultcore.')}' }
]

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for endpoint in endpoints: {
  name: endpoint.zone
  location: 'global'
  tags: tags
}]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (endpoint, i) in endpoints: {
  parent: zones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for (endpoint, i) in endpoints: {
  name: 'pe-${name}-${endpoint.group}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet.properties.subnets[1].id
    }
    privateLinkServiceConnections: [
      {
        name: endpoint.group
        properties: {
          privateLinkServiceId: endpoint.target == 'vault' ? keyVaultId : storageAccountId
          groupIds: [endpoint.group]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (endpoint, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: endpoint.group
        properties: {
          privateDnsZoneId: zones[i].id
        }
      }
    ]
  }
}]

output appSubnetId string = vnet.properties.subnets[0].id
