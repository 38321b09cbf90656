// The SampleSource resource as the runtime's informers and clients address it.
import { API_VERSION, KIND, PLURAL } from '../../contract/samplesource.js';
import type { ResourceType } from '../runtime/objects.js';

/** samples.knative.dev/v1alpha1 samplesources. */
export const SAMPLESOURCE_RESOURCE: ResourceType = { apiVersion: API_VERSION, plural: PLURAL, kind: KIND };
