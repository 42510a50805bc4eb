/** MQTT topic rules checked inside the worker so ms_subscribe/ms_publish can throw synchronously in the script. */
export function topicFilterProblem(filter) {
    if (filter.length === 0)
        return 'topic filter must not be empty';
    if (filter.includes('\u0000'))
        return 'topic filter must not contain NUL';
    const levels = filter.split('/');
    for (let i = 0; i < levels.length; i++) {
        const level = levels[i];
        if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
            return `'#' must be a whole level and the last one: ${filter}`;
        }
        if (level.includes('+') && level !== '+')
            return `'+' must be a whole level: ${filter}`;
    }
    return undefined;
}
export function topicNameProblem(topic) {
    if (topic.length === 0)
        return 'topic must not be empty';
    if (topic.includes('\u0000'))
        return 'topic must not contain NUL';
    if (topic.includes('+') || topic.includes('#'))
        return `topic must not contain wildcards: ${topic}`;
    return undefined;
}
//# sourceMappingURL=topic-rules.js.map