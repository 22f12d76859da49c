export {
  MAX_MEASURES_PER_MESSAGE,
  MAX_MESSAGE_BYTES,
  MeasureInput,
  MeasureMessage,
  fieldErrors,
  parseMeasureMessage,
  toMeasures,
  type FieldError,
  type Measure,
  type ParsedMessage,
} from './measure-message';
export { InvalidMeasureError, MeasurePublisher, UnroutableError, type PublisherOptions } from './publisher';
