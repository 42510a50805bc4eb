/** MQTT topic rules checked inside the worker so ms_subscribe/ms_publish can throw synchronously in the script. */
export declare function topicFilterProblem(filter: string): string | undefined;
export declare function topicNameProblem(topic: string): string | undefined;
